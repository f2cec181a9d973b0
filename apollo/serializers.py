def validated(serializer_class, data, **kwargs) -> dict:
    """Validate ``data`` with ``serializer_class``; a failure is a 400 ``validation_error``."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
