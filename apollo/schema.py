from drf_spectacular.openapi import AutoSchema


class ApolloAutoSchema(AutoSchema):
    """Adds the contract's headers, error answers and a cURL example to each operation."""
