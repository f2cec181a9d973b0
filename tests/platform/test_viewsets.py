import pytest

from apollo.viewsets import OrganizationViewSet


@pytest.mark.parametrize("method", ["get_queryset", "get_object", "initial"])
def test_it_refuses_a_subclass_that_replaces_the_org_scoping(method):
    with pytest.raises(TypeError, match=f"overrides {method}"):
        type("LeakyViewSet", (OrganizationViewSet,), {method: lambda self: None})


def test_it_lets_a_subclass_narrow_the_queryset_through_the_hook():
    viewset = type("NarrowViewSet", (OrganizationViewSet,), {"scope_queryset": lambda s, q: q})

    assert issubclass(viewset, OrganizationViewSet)
