"""Wire formats: HTTP bodies (http.py) and WebSocket frames (frames.py), as msgspec structs."""
