from django.shortcuts import render

from appgroups.decorators import app_group_required


@app_group_required()
def canvas_list(request):
    return render(request, "canvas/canvas_list.html")
