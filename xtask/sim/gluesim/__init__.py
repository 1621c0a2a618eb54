"""The Glue simulator of glue-rs's test world: moto's server with our extensions and corrections (see server.py)."""
