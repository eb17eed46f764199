"""The SKU path: stock and catalog forwarding, then the per-SKU state that decides restocks and discounts."""
