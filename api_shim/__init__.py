"""The HTTP shim: the seed's API on port 4100, plus the job API (Starlette + uvicorn)."""
