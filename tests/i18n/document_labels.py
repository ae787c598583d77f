"""The labels Braze's own documents give in each language (issue 16): every English label of the
dashboard below appears in that language exactly as the document writes it (in bold, or in its
metrics table). The catalog test checks the catalogs against this table and the per-language
browser walk looks for these words on screen.

Where a document's wording is clearly a mistranslation but is what a user would search the docs
for, it is kept (the catalog says so in a translator comment): Spanish "Has entrado" and "Has
salido de Canvas", Brazilian Portuguese "Saíram do canva". The Brazilian document gives most
labels in English followed by the Portuguese in parentheses, and the French one (an older
version) does the same: the Portuguese and French words are the ones used. Where the current
documents keep a label in English ("Audience Sync" in German and Portuguese), so does the
dashboard.
"""

DOCUMENT_LABELS: dict[str, dict[str, str]] = {
    "es": {
        "Partner Integrations": "Integraciones de socios",
        "Technology Partners": "Socios tecnológicos",
        "Connect TikTok": "Conectar TikTok",
        "Custom Audience": "Público personalizado",
        "Choose a New or Existing Audience": "Elegir un público nuevo o existente",
        "Add Users to Audience": "Añadir usuarios al público",
        "Add to the Audience": "Añadir a la audiencia",
        "Create Audience": "Crear público",
        "Entered": "Has entrado",
        "Proceeded to Next Step": "Continúa con el paso siguiente",
        "Users Synced": "Usuarios sincronizados",
        "Users Not Synced": "Usuarios no sincronizados",
        "Users Pending": "Usuarios pendientes",
        "Users Errored": "Usuarios con errores",
        "Exited Canvas": "Has salido de Canvas",
    },
    "pt-br": {
        "Technology Partners": "Parceiros de Tecnologia",
        "Connect TikTok": "Conectar TikTok",
        "Custom Audience": "Público personalizado",
        "Choose a New or Existing Audience": "Escolher um público novo ou existente",
        "Add Users to Audience": "Adicionar usuários ao público",
        "Create Audience": "Criar público",
        "Entered": "Entraram",
        "Proceeded to Next Step": "Avançaram para a etapa seguinte",
        "Users Synced": "Usuários sincronizados",
        "Users Not Synced": "Usuários não sincronizados",
        "Users Pending": "Usuários pendentes",
        "Users Errored": "Usuários com erro",
        "Exited Canvas": "Saíram do canva",
    },
    "de": {
        "Partner Integrations": "Partnerintegrationen",
        "Technology Partners": "Technologiepartner",
        "Connect TikTok": "TikTok verbinden",
        "Custom Audience": "Benutzerdefinierte Audience",
        "Choose a New or Existing Audience": "Neue oder bestehende Zielgruppe auswählen",
        "Add Users to Audience": "Benutzer zur Zielgruppe hinzufügen",
        "Create Audience": "Zielgruppe erstellen",
        "Entered": "Aufgenommen",
        "Proceeded to Next Step": "Fortgefahren mit nächstem Schritt",
        "Users Synced": "Nutzer:innen synchronisiert",
        "Users Not Synced": "Nutzer:innen nicht synchronisiert",
        "Users Pending": "Nutzer:innen ausstehend",
        "Users Errored": "Fehler bei Nutzer:innen",
        "Exited Canvas": "Canvas verlassen",
    },
    "fr": {
        "Connect TikTok": "Se connecter à TikTok",
        "Custom Audience": "Audience personnalisée",
        "Choose a New or Existing Audience": (
            "Choisir une nouvelle audience ou une audience existante"
        ),
        "Add Users to Audience": "Ajouter les utilisateurs à l’audience",
        "Add to the Audience": "Ajouter à l’audience",
        "Create Audience": "Créer une audience",
        "Entered": "Entrés",
        "Proceeded to Next Step": "Passés à l’étape suivante",
        "Users Synced": "Utilisateurs synchronisés",
        "Users Not Synced": "Utilisateurs non synchronisés",
        "Users Pending": "Utilisateurs en attente",
        "Users Errored": "Utilisateurs en erreur",
        "Exited Canvas": "Sortis de Canvas",
    },
}
