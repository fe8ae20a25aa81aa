"""The HTTP API (`reconcile --listen`): a Starlette app over a narrow port the reconciler implements,
served by uvicorn in the reconciler's event loop."""
