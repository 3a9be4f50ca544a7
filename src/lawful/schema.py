"""Imports every domain model module so that ``Base.metadata`` holds the whole schema.

Alembic, the metadata check, the datamap and the access report read the schema from here.
A new domain package adds its ``models`` import below.
"""

from __future__ import annotations

from lawful.agreements import models as agreements  # noqa: F401
from lawful.authorities import models as authorities  # noqa: F401
from lawful.billing import models as billing  # noqa: F401
from lawful.customers import models as customers  # noqa: F401
from lawful.data import log  # noqa: F401
from lawful.data.base import Base
from lawful.mail import models as mail  # noqa: F401
from lawful.monitoring import models as monitoring  # noqa: F401
from lawful.retention import models as retention  # noqa: F401
from lawful.rights import models as rights  # noqa: F401
from lawful.support import models as support  # noqa: F401
from lawful.users import models as users  # noqa: F401

metadata = Base.metadata
