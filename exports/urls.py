from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("datasets/<int:pk>/export/", views.export_create, name="create"),
    path("datasets/<int:pk>/jobs/", views.jobs_partial, name="jobs"),
    path("datasets/<int:pk>/export/preview/", views.export_preview, name="preview"),
    path("datasets/<int:pk>/export/labels/", views.export_labels, name="labels"),
    path("exports/<uuid:job_id>/cancel/", views.export_cancel, name="cancel"),
    path("datasets/<int:pk>/jobs/clear/", views.jobs_clear, name="clear"),
    path("exports/<uuid:job_id>/again/", views.export_again, name="again"),
    path("exports/<uuid:job_id>/remove/", views.export_remove, name="remove"),
    path("exports/<uuid:job_id>/download/", views.export_download, name="download"),
    path("exports/link/<str:token>/", views.signed_download, name="signed_download"),
]
