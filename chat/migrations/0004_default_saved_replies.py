"""Saved replies a returns team uses every day, so the console has some from the start (admins edit them)."""

from django.db import migrations

DEFAULTS = [
    (
        "Sorry it arrived damaged",
        "I'm so sorry your order arrived damaged, {first_name}. I'll get a return started for you right away.",
    ),
    (
        "Checking with the warehouse",
        "Thanks for your patience, {first_name}. I'm checking with our warehouse and will be back with you shortly.",
    ),
    (
        "Label on its way",
        "Your prepaid return label is on its way to you, {first_name}. Drop the parcel off at any carrier point.",
    ),
    ("Anything else?", "Is there anything else I can help you with today, {first_name}? - {agent_name}"),
]


def add_defaults(apps, schema_editor):  # type: ignore[no-untyped-def]
    SavedReply = apps.get_model("chat", "SavedReply")
    for title, body in DEFAULTS:
        SavedReply.objects.get_or_create(title=title, defaults={"body": body})


class Migration(migrations.Migration):
    dependencies = [("chat", "0003_saved_reply")]
    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
