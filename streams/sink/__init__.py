"""The Postgres sink: every restock and discount decision lands once."""
