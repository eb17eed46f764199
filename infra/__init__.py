"""Local real services: Apache Kafka (KRaft) and PostgreSQL, started without Docker."""
