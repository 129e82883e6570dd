from django.contrib import admin
from django.urls import include, path

handler500 = "nexus.busy.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("datasets.urls")),
    path("", include("annotations.urls")),
    path("", include("exports.urls")),
]
