"""The customer's chat with the assistant: one turn in, stored with everything decided about it.

Each customer message is stored with its language, intent and confidence, entities, sentiment and emotion,
the action taken, the model versions and the latency; the assistant's replies are stored after it. The
entry point owns the transaction. A customer sees only their own conversations (another's is "not found").

Hand-off to a person (:mod:`smartbank.assistant.handoff`) when the customer asks for one or complains, when
a message is very negative (sentiment <= -0.6) or two in a row are negative (<= -0.3), or when two turns
in a row are not understood. While a conversation waits for or is with an agent, customer messages are
stored and the assistant does not answer them; while it waits for one, each message gets a short
acknowledgement that a colleague will reply. A conversation keeps its language unless the customer clearly
switches (:func:`smartbank.assistant.entities.conversation_language`). Sentiment comes from
:mod:`smartbank.assistant.nlp.sentiment` (neutral when unavailable); FAQ answers from
:mod:`smartbank.assistant.faq` (none when nothing matches well enough).

This module is the assistant's front door (:data:`__all__`): the agents' queue (:mod:`.handoff`, names
prefixed or suffixed ``handoff``/``conversation``), the knowledge base (:mod:`.faq`, names with ``faq``),
the analytics summary, the models' training, warm-up and evaluation are re-exported here.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from smartbank import clock
from smartbank.assistant import actions, dialogue, entities, faq, handoff, intents
from smartbank.assistant.analytics import VIEWER_ROLES as ANALYTICS_VIEWERS
from smartbank.assistant.analytics import summary as analytics_summary
from smartbank.assistant.dialogue import TRANSACTIONAL, Dialogue, Nlu, say
from smartbank.assistant.faq import CATEGORIES as FAQ_CATEGORIES
from smartbank.assistant.faq import EDITOR_ROLES as FAQ_EDITORS
from smartbank.assistant.faq import LANGUAGES as FAQ_LANGUAGES
from smartbank.assistant.faq import MAX_ANSWER as FAQ_MAX_ANSWER
from smartbank.assistant.faq import MAX_QUESTION as FAQ_MAX_QUESTION
from smartbank.assistant.faq import MAX_TEXT as FAQ_MAX_TEXT
from smartbank.assistant.faq import MAX_VARIANTS as FAQ_MAX_VARIANTS
from smartbank.assistant.faq import create_entry as create_faq_entry
from smartbank.assistant.faq import explain as explain_faq_match
from smartbank.assistant.faq import get_entry as get_faq_entry
from smartbank.assistant.faq import list_entries as list_faq_entries
from smartbank.assistant.faq import set_active as set_faq_active
from smartbank.assistant.faq import update_entry as update_faq_entry
from smartbank.assistant.faq_seed import seed as seed_faq
from smartbank.assistant.handoff import AGENT_ROLES, agent_reply
from smartbank.assistant.handoff import MAX_REPLY as MAX_AGENT_REPLY
from smartbank.assistant.handoff import TABS as HANDOFF_TABS
from smartbank.assistant.handoff import claim as claim_conversation
from smartbank.assistant.handoff import close as close_conversation
from smartbank.assistant.handoff import counts as handoff_counts
from smartbank.assistant.handoff import get_conversation as agent_conversation
from smartbank.assistant.handoff import queue as handoff_queue
from smartbank.assistant.intents import train as train_intents
from smartbank.assistant.models import HANDOFF_REASONS, AssistantConversation, AssistantHandoff, AssistantMessage
from smartbank.assistant.nlp import sentiment
from smartbank.assistant.nlp.intent_eval import evaluate_intent
from smartbank.assistant.nlp.qmatch import evaluate_qmatch
from smartbank.assistant.nlp.sentiment_model import evaluate_sentiment
from smartbank.assistant.nlp.sentiment_model import train_and_save as train_sentiment
from smartbank.errors import Conflict, Forbidden, NotFound, ValidationFailed
from smartbank.security.service import Principal

__all__ = [
    # the customer's chat
    "CHANNELS", "MAX_TEXT", "get_conversation", "history", "list_conversations", "rate", "send", "suggestions",
    # a deleted customer's texts (privacy)
    "ERASED_TEXT", "erase_customer_texts",
    # the agents' queue
    "AGENT_ROLES", "HANDOFF_REASONS", "HANDOFF_TABS", "MAX_AGENT_REPLY", "agent_conversation", "agent_reply",
    "claim_conversation", "close_conversation", "handoff_counts", "handoff_queue",
    # the knowledge base
    "FAQ_CATEGORIES", "FAQ_EDITORS", "FAQ_LANGUAGES", "FAQ_MAX_ANSWER", "FAQ_MAX_QUESTION", "FAQ_MAX_TEXT",
    "FAQ_MAX_VARIANTS", "create_faq_entry", "explain_faq_match", "get_faq_entry", "list_faq_entries", "seed_faq",
    "set_faq_active", "update_faq_entry",
    # analytics
    "ANALYTICS_VIEWERS", "analytics_summary",
    # the models: training, warm-up, evaluation
    "evaluate_intent", "evaluate_qmatch", "evaluate_sentiment", "reset_sentiment_cache", "score_sentiment",
    "train_intents", "train_sentiment", "warm", "warm_sentiment",
]

# the sentiment model on its own (the models benchmark)
score_sentiment = sentiment.score
reset_sentiment_cache = sentiment.reset_cache
warm_sentiment = sentiment.warm

MAX_TEXT = 1000
VERY_NEGATIVE = -0.6
NEGATIVE = -0.3
CHANNELS = ("web", "api")


def _customer(actor: Principal) -> int:
    if actor.customer_id is None or actor.is_staff:
        raise Forbidden("the assistant talks with customers", reason="assistant.customers_only",
                        details={"role": actor.role})
    return actor.customer_id


def suggestions(lang: str) -> list[dict[str, str]]:
    """What the assistant offers to start a conversation with (quick replies: ``label`` and the ``value`` sent)."""
    return dialogue.suggestion_buttons(lang if lang in ("zh", "en") else "zh")


def get_conversation(session: Session, actor: Principal, conversation_id: int) -> AssistantConversation:
    cid = _customer(actor)
    c = session.get(AssistantConversation, conversation_id)
    if c is None or c.customer_id != cid:
        raise NotFound("conversation not found", reason="assistant.conversation_not_found",
                       details={"conversation_id": conversation_id})
    return c


def warm() -> None:
    """Load the intent model (trained in memory when none is saved: a few seconds) and the sentiment model, so
    the first chat message does not wait for them."""
    intents.model()
    sentiment.warm()


def _sentiment(text: str) -> tuple[float, str, str | None]:
    s = sentiment.score(text)
    return float(s.value), s.emotion, s.model_version


def _faq(session: Session) -> Any:
    def ask(text: str, lang: str) -> tuple[str, float, list[str]] | None:
        m = faq.match(session, text, language=lang)
        if m is None or m.confidence < faq.THRESHOLD:
            return None
        return m.answer, float(m.confidence), faq.related(session, m.entry_id, language=lang)
    return ask


def _hand_off(session: Session, conv: AssistantConversation, reason: str, summary: dict[str, Any]) -> None:
    handoff.hand_off(session, conv, reason=reason, summary=summary)
    conv.handoff_reason = conv.handoff_reason or reason


_KEEP = frozenset({"human", "complaint", "cancel", "affirm", "deny"})
THRESHOLD_RULE = 0.9  # confidence recorded for an intent read from words rather than the model


def _scope(text: str, pred: intents.Prediction, ent: dict[str, Any]) -> intents.Prediction:
    """Questions the trained intents cannot place: a product the bank does not offer (``out_of_scope``, answered
    honestly instead of as, say, a balance question) and a question about spending (``spending``). An explicit
    request for a person, a complaint or a yes / no / cancel keeps its intent. A request about consents
    (:func:`smartbank.assistant.intents.consent_request`) is read from its words first: "取消营销短信" is not a
    cancel."""
    consent = intents.consent_request(text)
    if consent is not None:
        ent["consent_purposes"] = consent[1]
        return replace(pred, intent=consent[0], confidence=max(pred.confidence, THRESHOLD_RULE))
    if pred.intent in _KEEP:
        return pred
    if ent.get("unavailable_product"):
        return replace(pred, intent="out_of_scope", confidence=1.0)
    if intents.spending_question(text) and pred.intent not in TRANSACTIONAL:
        return replace(pred, intent="spending", confidence=max(pred.confidence, THRESHOLD_RULE))
    return pred


def _message(session: Session, conv: AssistantConversation, sender: str, text: str, **kw: Any) -> AssistantMessage:
    m = AssistantMessage(conversation_id=conv.id, sender=sender, text=text, **kw)
    session.add(m)
    return m


def send(session: Session, actor: Principal, *, text: str, conversation_id: int | None = None,
         channel: str = "web", today: date | None = None) -> dict[str, Any]:
    """One customer turn (see the module docstring)."""
    started = time.perf_counter()
    cid = _customer(actor)
    text = (text or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise ValidationFailed(f"a message has 1-{MAX_TEXT} characters", reason="assistant.message_length",
                               details={"length": len(text), "max": MAX_TEXT})
    if channel not in CHANNELS:
        raise ValidationFailed("channel must be web or api", reason="assistant.bad_channel",
                               details={"channel": channel})
    if conversation_id is None:
        lang = entities.language(text)
        conv = AssistantConversation(customer_id=cid, channel=channel, language=lang, status="bot", state={},
                                     misunderstood=0, version=1)
        session.add(conv)
        session.flush()
    else:
        conv = get_conversation(session, actor, conversation_id)
        if conv.status == "closed":
            raise Conflict("this conversation is closed; start a new one", reason="assistant.conversation_closed",
                           details={"conversation_id": conv.id})
        # the conversation keeps its language unless the customer clearly switches ("ATM" in Chinese does not)
        lang = entities.conversation_language(text, conv.language)
    value, emotion, sentiment_version = _sentiment(text)
    conv.language = lang
    now = clock.now()
    conv.updated_at = now
    prev = conv.last_sentiment
    conv.last_sentiment = value
    if conv.status in ("waiting", "agent"):
        _message(session, conv, "customer", text, language=lang, sentiment=value, emotion=emotion,
                 model_versions={"sentiment": sentiment_version},
                 latency_ms=round((time.perf_counter() - started) * 1000, 2))
        replies: list[dict[str, Any]] = []
        if conv.status == "waiting":  # no colleague has the conversation yet: say that one will answer
            replies.append({"text": say(lang, "waiting_ack"), "kind": "handoff"})
            _message(session, conv, "assistant", replies[0]["text"], language=lang, action={"kind": "handoff"})
        session.flush()
        return {"conversation_id": conv.id, "status": conv.status, "replies": replies, "intent": None,
                "confidence": None, "entities": {}, "sentiment": value, "action": None}
    today = today or clock.today()
    parties = actions.parties(session, actor)
    pred = intents.classify(text)
    ent = entities.extract(text, today=today, candidates=parties)
    pred = _scope(text, pred, ent)
    dlg = Dialogue(session, actor, conv.state, today=today, faq=_faq(session))
    turn = dlg.turn(Nlu(text=text, lang=lang, prediction=pred, entities=ent))
    conv.misunderstood = 0 if turn.understood else conv.misunderstood + 1
    reason = turn.handoff
    if reason is None and (value <= VERY_NEGATIVE or (value <= NEGATIVE and prev is not None and prev <= NEGATIVE)):
        reason = "sentiment"
    if reason is None and conv.misunderstood >= 2:
        reason = "misunderstood"
    if reason is not None and turn.handoff is None:
        turn.reply(say(lang, "handoff"), kind="handoff")
    if pred.intent not in ("unknown", "affirm", "deny", "cancel"):
        conv.top_intent = pred.intent
    conv.state = turn.state
    versions = {"intent": pred.model_version, "sentiment": sentiment_version}
    _message(session, conv, "customer", text, language=lang, intent=pred.intent, confidence=pred.confidence,
             entities=ent, sentiment=value, emotion=emotion, action=turn.action, model_versions=versions,
             latency_ms=round((time.perf_counter() - started) * 1000, 2))
    for r in turn.replies:
        _message(session, conv, "assistant", r["text"], language=lang,
                 action={"kind": r["kind"], **({"buttons": r["buttons"]} if r.get("buttons") else {})})
    session.flush()
    if reason is not None:
        _hand_off(session, conv, reason, {"intent": pred.intent, "top_intent": conv.top_intent,
                                          "slots": (turn.state or {}).get("slots"), "sentiment": value,
                                          "emotion": emotion, "text": text, "language": lang})
        session.flush()
    return {"conversation_id": conv.id, "status": conv.status, "replies": turn.replies, "intent": pred.intent,
            "confidence": pred.confidence, "entities": ent, "sentiment": value, "action": turn.action}


def _conv_dict(c: AssistantConversation) -> dict[str, Any]:
    return {"id": c.id, "status": c.status, "language": c.language, "channel": c.channel,
            "top_intent": c.top_intent, "started_at": c.started_at, "updated_at": c.updated_at,
            "closed_at": c.closed_at, "satisfaction": c.satisfaction}


def list_conversations(session: Session, actor: Principal, *, limit: int = 20) -> list[dict[str, Any]]:
    cid = _customer(actor)
    rows = session.scalars(select(AssistantConversation).where(AssistantConversation.customer_id == cid)
                           .order_by(AssistantConversation.id.desc()).limit(limit))
    return [_conv_dict(c) for c in rows]


def history(session: Session, actor: Principal, conversation_id: int, *, after_id: int = 0) -> dict[str, Any]:
    c = get_conversation(session, actor, conversation_id)
    msgs = session.scalars(select(AssistantMessage).where(AssistantMessage.conversation_id == c.id,
                                                          AssistantMessage.id > after_id)
                           .order_by(AssistantMessage.id))
    return {**_conv_dict(c), "messages": [
        {"id": m.id, "sender": m.sender, "text": m.text, "intent": m.intent, "created_at": m.created_at,
         "kind": (m.action or {}).get("kind") if m.sender == "assistant" else None,
         "buttons": list((m.action or {}).get("buttons") or []) if m.sender == "assistant" else []} for m in msgs]}


def rate(session: Session, actor: Principal, conversation_id: int, *, score: int,
         comment: str | None = None) -> dict[str, Any]:
    """The customer's satisfaction (1..5) at the end; closes the conversation."""
    c = get_conversation(session, actor, conversation_id)
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise ValidationFailed("a rating is 1 to 5", reason="assistant.bad_rating", details={"score": score})
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_TEXT:
        raise ValidationFailed(f"a comment has at most {MAX_TEXT} characters", reason="assistant.comment_too_long",
                               details={"max": MAX_TEXT})
    if c.satisfaction is not None:
        raise Conflict("this conversation is already rated", reason="assistant.already_rated",
                       details={"conversation_id": c.id})
    c.satisfaction = score
    c.satisfaction_comment = comment
    c.status = "closed"
    c.closed_at = clock.now()
    c.version += 1
    session.flush()
    return _conv_dict(c)


ERASED_TEXT = "[deleted]"


def erase_customer_texts(session: Session, customer_id: int) -> int:
    """A deletion request: every message of the customer's conversations (theirs, the assistant's and agents'
    replies, which quote them) is replaced by :data:`ERASED_TEXT`, with the entities, the dialogue state, the
    rating comment and the hand-off summary. The conversations stay as rows (counts for the analytics).
    Returns the number of messages erased."""
    conv_ids = select(AssistantConversation.id).where(AssistantConversation.customer_id == customer_id)
    erased = session.execute(update(AssistantMessage).where(AssistantMessage.conversation_id.in_(conv_ids))
                             .values(text=ERASED_TEXT, entities=None, action=None))
    n = getattr(erased, "rowcount", 0)
    session.execute(update(AssistantConversation).where(AssistantConversation.customer_id == customer_id)
                    .values(state={}, satisfaction_comment=None))
    session.execute(update(AssistantHandoff).where(AssistantHandoff.customer_id == customer_id).values(summary=None))
    session.flush()
    return int(n or 0)
