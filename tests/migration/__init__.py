"""Moving repositories off another notary server: ``admin import`` and the owner's hand-over."""
