from django.shortcuts import render

from appgroups.decorators import app_group_required


@app_group_required()
def technology_partners(request):
    return render(request, "partners/technology_partners.html")
