"""The camera simulator: scripted scenes served by a real RTSP server."""
