from django import template

from customers.money import dollars

register = template.Library()


@register.filter
def cents(value: int) -> str:
    """{{ proposal_total|cents }} -> "$1,234.56"."""
    return dollars(int(value))
