from django.urls import path

from . import views

app_name = "annotations"
urlpatterns = [
    path("datasets/<int:pk>/annotations/", views.annotations_tab, name="tab"),
]
