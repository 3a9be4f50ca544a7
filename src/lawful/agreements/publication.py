"""What this installation publishes now, recorded once per process; see :mod:`lawful.agreements.documents`.

The app reads the statement (from the enforced policy) and the terms (``LAWFUL_TERMS``) when it
starts. The first time they are needed, :meth:`Publication.ensure` records any new version and, for
a version that replaces an earlier one, mails the customers what changed. The result is cached for
the life of the process: the documents cannot change without a restart.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

from lawful.agreements import documents, notices
from lawful.agreements.documents import Document
from lawful.agreements.models import DocumentKind
from lawful.data.db import Database
from lawful.data.purpose import Actor

ACTOR = Actor.system("publication")
PURPOSE = "contract"  # the mail to customers about a change goes to their billing address


@dataclass(frozen=True, slots=True)
class Version:
    """A published version, detached from any session."""

    id: uuid.UUID
    kind: DocumentKind
    digest: str
    label: str
    published_at: datetime

    @property
    def short(self) -> str:
        return self.digest[:12]


class Publication:
    def __init__(self, db: Database, docs: list[Document], *, base_url: str, organisation: str) -> None:
        self.db = db
        self.documents = {d.kind: d for d in docs}
        self.base_url = base_url.rstrip("/")
        self.organisation = organisation
        self._versions: dict[DocumentKind, Version] | None = None
        self.mailed = 0  # mails queued to customers about new versions by this process
        self._lock = threading.Lock()

    def document(self, kind: DocumentKind) -> Document:
        return self.documents[kind]

    def ensure(self) -> dict[DocumentKind, Version]:
        """The versions in force, publishing the documents as new versions where they changed."""
        if self._versions is not None:
            return self._versions
        with self._lock:
            if self._versions is None:
                found: dict[DocumentKind, Version] = {}
                with self.db.unit_of_work(PURPOSE, ACTOR) as session:
                    for kind, doc in self.documents.items():
                        row, new = documents.publish(session, doc)
                        if new:
                            self.mailed += notices.mail_customers(
                                session, row, base_url=self.base_url, organisation=self.organisation
                            )
                        found[kind] = Version(row.id, row.kind, row.digest, row.label, row.published_at)
                self._versions = found
        return self._versions

    def version(self, kind: DocumentKind) -> Version:
        return self.ensure()[kind]

    def in_force(self) -> tuple[Version, Version]:
        """The versions of the terms and of the statement in force, the pair a form asks to accept."""
        return self.version(DocumentKind.terms), self.version(DocumentKind.statement)
