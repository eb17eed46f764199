"""What crosses a topic: record classes, strict decoding, event time, JSON Schemas, topic names."""
