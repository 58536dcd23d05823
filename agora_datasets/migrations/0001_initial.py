# ExportJob, moved here from the annotation app with its table (annotation_exportjob, made by annotation's
# 0005_export_jobs): the model enters this app's state only, after annotation's 0006 took it out of its
# own. Its content type moves too, so permissions granted on export jobs and admin log entries stay.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_move(apps, schema_editor, old='annotation', new='datasets'):
    ContentType = apps.get_model('contenttypes', 'ContentType')
    types = ContentType.objects.using(schema_editor.connection.alias)
    if not types.filter(app_label=new, model='exportjob').exists():
        types.filter(app_label=old, model='exportjob').update(app_label=new)


def content_type_move_back(apps, schema_editor):
    content_type_move(apps, schema_editor, old='datasets', new='annotation')


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('annotation', '0006_move_exportjob_to_datasets'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='ExportJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('parameters', models.JSONField(default=dict)),
                        ('state', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('done', 'Done'), ('failed', 'Failed')], default='queued', max_length=10)),
                        ('progress', models.FloatField(default=0.0)),
                        ('rows', models.PositiveBigIntegerField(blank=True, null=True)),
                        ('manifest', models.JSONField(blank=True, null=True)),
                        ('error', models.TextField(blank=True)),
                        ('duration_ms', models.PositiveIntegerField(blank=True, null=True)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('started_at', models.DateTimeField(blank=True, null=True)),
                        ('finished_at', models.DateTimeField(blank=True, null=True)),
                        ('created_by', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='exports', to=settings.AUTH_USER_MODEL)),
                        ('project', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='exports', to='annotation.project')),
                    ],
                    options={
                        'db_table': 'annotation_exportjob',
                        'ordering': ['-id'],
                        'constraints': [models.CheckConstraint(condition=models.Q(('state__in', ['queued', 'running', 'done', 'failed'])), name='exportjob_state_valid'), models.CheckConstraint(condition=models.Q(('progress__gte', 0), ('progress__lte', 1)), name='exportjob_progress_range')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_move, content_type_move_back),
    ]
