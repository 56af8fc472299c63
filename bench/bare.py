"""The baseline for the single check: a bare FastAPI endpoint returning a constant JSON."""

from fastapi import FastAPI

app = FastAPI()
ANSWER = {"channel": "electronic", "allowed": True, "reason": "consent", "detail": "The person consented."}


@app.get("/v1/customers/{customer_id}/marketing/{channel}")
async def check(customer_id: str, channel: str) -> dict[str, object]:
    return ANSWER
