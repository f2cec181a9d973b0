from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apollo import health
from orgs.api.views import JwksView

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
    path("v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("v1/", include("orgs.api.urls")),
    path("v1/", include("webhooks.api.urls")),
    path("v1/", include("pipelines.api.urls")),
    path("v1/", include("leads.api.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "apollo.errors.handler400"
handler403 = "apollo.errors.handler403"
handler404 = "apollo.errors.handler404"
handler500 = "apollo.errors.handler500"
