"""Commands placeholder."""

from __future__ import annotations

import typer


def register(app: typer.Typer, group: typer.Typer, eval_app: typer.Typer) -> None:
    _register_chat(group)


def _register_chat(group: typer.Typer) -> None:
    @group.command("train-intents")
    def train_intents() -> None:
        """Fit the assistant's intent classifier on its training utterances and save it in the model registry."""
        import json

        from smartbank.assistant import intents

        print(json.dumps(intents.train()))

    @group.command("chat")
    def chat(text: str = typer.Argument(..., help="the customer's message"),
             customer: int = typer.Option(..., "--customer", help="customer id"),
             conversation: int | None = typer.Option(None, "--conversation", help="continue a conversation")
             ) -> None:
        """One turn as the customer (acting as their first user): prints the assistant's replies."""
        from sqlalchemy import select

        from smartbank import db
        from smartbank.assistant import service
        from smartbank.security.models import User
        from smartbank.security.service import Principal

        def work(s):  # type: ignore[no-untyped-def]
            u = s.scalars(select(User).where(User.customer_id == customer).order_by(User.id)).first()
            if u is None:
                raise typer.BadParameter(f"customer {customer} has no user")
            actor = Principal(user_id=u.id, username=u.username, role=u.role, customer_id=customer)
            return service.send(s, actor, text=text, conversation_id=conversation, channel="api")

        res = db.run_in_transaction(work)
        for r in res["replies"]:
            print(r["text"])
        print(f"[conversation {res['conversation_id']} · {res['status']} · {res['intent']} "
              f"{res['confidence']}]")
