"""The maths of flashsale-stream: embeddings, forecasts, BERT scoring, decision policies (no Faust)."""
