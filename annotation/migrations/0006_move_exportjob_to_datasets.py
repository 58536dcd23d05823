# ExportJob moved to the datasets app (agora_datasets), which keeps its table, annotation_exportjob:
# the model leaves annotation's state only, and datasets' 0001_initial, which runs after this one,
# takes it into its own. Nothing in the database changes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0005_export_jobs'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(
                    name='ExportJob',
                ),
            ],
            database_operations=[],
        ),
    ]
