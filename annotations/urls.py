from django.urls import path

from . import views

app_name = "annotations"
urlpatterns = [
    path("datasets/<int:pk>/annotations/", views.annotations_tab, name="tab"),
    path("datasets/<int:pk>/legend/", views.labels_legend, name="legend"),
    path("images/<int:pk>/", views.image_detail, name="image"),
    path("datasets/<int:pk>/annotations/upload/", views.import_upload, name="upload"),
    path("imports/<uuid:job_id>/", views.import_review, name="import_review"),
    path("imports/<uuid:job_id>/confirm/", views.import_confirm, name="import_confirm"),
    path("imports/<uuid:job_id>/discard/", views.import_discard, name="import_discard"),
]
