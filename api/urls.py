from django.urls import path, re_path

from . import account, views

app_name = "api"
urlpatterns = [
    path("datasets/", views.dataset_list, name="datasets"),
    path("datasets/<int:pk>/", views.dataset_detail, name="dataset"),
    path("datasets/<int:pk>/exports/", views.dataset_exports, name="dataset_exports"),
    path("exports/<uuid:job_id>/", views.export_detail, name="export"),
    path("exports/<uuid:job_id>/cancel/", views.export_cancel, name="export_cancel"),
    path("exports/<uuid:job_id>/download/", views.export_download, name="export_download"),
    path("formats/", views.format_list, name="formats"),
    path("openapi.json", views.openapi_document, name="openapi"),
    # The token page is HTML with a session and CSRF, not part of the JSON API; it lives here
    # because nexus/urls.py mounts this app once.
    path("account/", account.account_page, name="account"),
    path("account/tokens/<int:pk>/revoke/", account.token_revoke, name="token_revoke"),
    re_path(r"^(?P<rest>.*)$", views.not_found),  # JSON 404s, not the HTML page
]
