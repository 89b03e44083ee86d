"""What an audit event says happened. Kept free of models so callers can import it early."""

from django.db import models


class Action(models.TextChoices):
    VIEW = "view", "Viewed one object"
    LIST = "list", "Listed objects"
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    CANCEL = "cancel", "Cancelled"
    EXPORT = "export", "Exported"
    CORRECT = "correct", "Corrected a label"
    DELETE = "delete", "Deleted"
    PURGE = "purge", "Purged (retention)"
    REFUSE = "refuse", "Refused a request"
