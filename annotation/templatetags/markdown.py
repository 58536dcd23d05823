from django import template
from django.utils.safestring import mark_safe

from annotation.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    # Safe to mark: render_markdown sanitizes its output (see annotation/markdown.py).
    return mark_safe(render_markdown(text))
