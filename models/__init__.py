"""SQLAlchemy models: the source of truth for everything Lepton knows and has done."""

from models.answers import Answer, AnswerSnippet, KnowledgeGap, QueryLog, Rating
from models.audit import AuditLog
from models.base import Base
from models.events import ProcessedEvent
from models.knowledge import (
    Document,
    DocumentAnswerer,
    IndexState,
    Snippet,
    SnippetEmbedding,
    SnippetSentences,
)
from models.session import create_db_engine, make_session_factory
from models.surveys import (
    Survey,
    SurveyAnswer,
    SurveyComment,
    SurveyDelivery,
    SurveyDigestPost,
    SurveyNotice,
    SurveyOptOut,
    SurveyReminder,
    SurveyRound,
    SurveySealedAnswers,
)
from models.training import (
    Assignment,
    LearningPath,
    Nudge,
    TrainingDigestPost,
    TrainingModule,
)

__all__ = [
    "Answer",
    "AnswerSnippet",
    "Assignment",
    "AuditLog",
    "Base",
    "Document",
    "DocumentAnswerer",
    "IndexState",
    "KnowledgeGap",
    "LearningPath",
    "Nudge",
    "ProcessedEvent",
    "QueryLog",
    "Rating",
    "Snippet",
    "SnippetEmbedding",
    "SnippetSentences",
    "Survey",
    "SurveyAnswer",
    "SurveyComment",
    "SurveyDelivery",
    "SurveyDigestPost",
    "SurveyNotice",
    "SurveyOptOut",
    "SurveyReminder",
    "SurveyRound",
    "SurveySealedAnswers",
    "TrainingDigestPost",
    "TrainingModule",
    "create_db_engine",
    "make_session_factory",
]
