from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("arena", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="answer",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
