"""Which events certification follows, and the handler for each."""

from __future__ import annotations

from functools import partial

from services.certification import handlers
from services.certification.settings import CertificationSettings
from shared.consumer import Handler
from shared.events import Event, TrainingCompleted


def handlers_for(settings: CertificationSettings) -> dict[type[Event], Handler]:
    return {
        TrainingCompleted: partial(
            handlers.on_training_completed, valid_years=settings.certificate_valid_years
        ),
    }
