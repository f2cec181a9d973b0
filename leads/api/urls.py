from leads.api import import_urls, lead_urls

urlpatterns = [*lead_urls.urlpatterns, *import_urls.urlpatterns]
