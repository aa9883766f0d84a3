"""The Doccano adapter: server venv, HTTP API, projects, examples, UTF-16 offsets."""
