"""Job handlers, one module per job type family; each type's declaration names its handler."""
