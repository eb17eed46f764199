"""A deterministic, realistic-looking product catalogue for the flash-sale simulator.

Titles come from templates (brand × model × product × variant) per category, so any number of SKUs can
be generated from a seed; each product type carries the search queries shoppers type for it.

>>> skus = build_catalog(12, seed=3)
>>> len(skus), len({s.sku for s in skus}), len({s.title for s in skus})
(12, 12, 12)
>>> skus == build_catalog(12, seed=3)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ProductType:
    """One kind of product: its title noun, price band and the queries that look for it."""

    noun: str
    price_range: tuple[float, float]
    queries: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    """A category's vocabulary; ``elasticity`` is hidden truth (the pipeline never sees it)."""

    name: str
    code: str
    weight: float
    elasticity: float
    brands: tuple[str, ...]
    models: tuple[str, ...]
    variants: tuple[str, ...]
    products: tuple[ProductType, ...]


@dataclass(frozen=True)
class SimSku:
    """One generated SKU."""

    sku: str
    title: str
    category: str
    product: str
    base_price: float
    queries: tuple[str, ...]


def _p(noun: str, lo: float, hi: float, *queries: str) -> ProductType:
    return ProductType(noun, (lo, hi), queries)


# fmt: off
_COLORS = ("Midnight Black", "Arctic White", "Graphite", "Ocean Blue", "Sage Green", "Rose Gold")

CATEGORIES: tuple[Category, ...] = (
    Category("audio", "AUD", 1.2, 2.2, ("Sonavia", "Auralis", "Beatforge", "Kestrel Audio"),
             ("Pulse", "Echo", "Nova", "Studio", "Air"), _COLORS,
             (_p("Wireless Earbuds", 29, 179, "wireless earbuds", "bluetooth earbuds",
                  "noise cancelling earbuds"),
              _p("Over-Ear Headphones", 49, 349, "noise cancelling headphones", "over ear headphones"),
              _p("Bluetooth Speaker", 25, 199, "bluetooth speaker", "portable speaker waterproof"),
              _p("Soundbar", 99, 499, "soundbar for tv", "dolby atmos soundbar"))),
    Category("kitchen", "KIT", 1.0, 1.6, ("Cucina Pro", "Brewhaus", "Ferrano", "HomeChef"),
             ("Classic", "Barista", "Compact", "Elite", "Smart"),
             ("Stainless Steel", "Matte Black", "Cream", "Red"),
             (_p("Espresso Machine", 119, 699, "espresso machine", "coffee maker with grinder"),
              _p("Air Fryer 5.5L", 49, 179, "air fryer", "large air fryer"),
              _p("Blender 1200W", 39, 229, "high speed blender", "smoothie blender"),
              _p("Non-Stick Pan Set", 35, 159, "non stick pan set", "frying pan"),
              _p("Stand Mixer", 149, 499, "stand mixer", "kitchen mixer for baking"))),
    Category("fashion", "FAS", 1.3, 1.4, ("Northloom", "Velour & Co", "Urbanist", "Maison Lune"),
             ("Essential", "Heritage", "Street", "Weekend", "Signature"), ("Black", "Navy", "Camel", "Olive"),
             (_p("Down Puffer Jacket", 69, 259, "puffer jacket women", "winter down jacket"),
              _p("Leather Sneakers", 49, 149, "white leather sneakers", "casual sneakers men"),
              _p("Cashmere Sweater", 59, 199, "cashmere sweater", "wool jumper"),
              _p("Crossbody Bag", 29, 189, "crossbody bag", "leather shoulder bag"))),
    Category("sports", "SPO", 0.9, 1.8, ("Trailpeak", "Motiv", "Stridex", "Apex Athletic"),
             ("Pro", "Flex", "Endure", "Aero", "Core"), ("Black/Volt", "Blue", "Grey", "Coral"),
             (_p("Running Shoes", 59, 189, "running shoes", "trail running shoes"),
              _p("Yoga Mat 6mm", 19, 79, "yoga mat", "non slip exercise mat"),
              _p("Adjustable Dumbbells", 79, 349, "adjustable dumbbells", "home gym weights"),
              _p("Smart Fitness Band", 29, 149, "fitness tracker", "smart band heart rate"))),
    Category("electronics", "ELE", 1.4, 2.6, ("Voltic", "Lumenix", "Qore", "Stellar Tech"),
             ("X2", "Max", "Lite", "Ultra", "S"), ("Space Grey", "Silver", "Black", "Deep Blue"),
             (_p("Smartwatch", 99, 399, "smartwatch", "gps smart watch"),
              _p("10-inch Tablet", 129, 549, "android tablet", "10 inch tablet"),
              _p("Power Bank 20000mAh", 19, 69, "power bank", "fast charging portable charger"),
              _p("4K Action Camera", 89, 399, "action camera", "4k waterproof camera"),
              _p("Mechanical Keyboard", 49, 199, "mechanical keyboard", "wireless gaming keyboard"))),
    Category("beauty", "BEA", 1.0, 0.9, ("Lumière", "Dermaflora", "Kaya Skin", "Velvetine"),
             ("Hydra", "Glow", "Pure", "Night", "Renew"),
             ("Travel Size", "Gift Set", "Value Pack", "Limited Edition"),
             (_p("Vitamin C Serum", 15, 79, "vitamin c serum", "brightening face serum"),
              _p("Hyaluronic Moisturiser", 12, 69, "moisturiser for dry skin", "hyaluronic acid cream"),
              _p("Eau de Parfum", 39, 159, "perfume for women", "eau de parfum"),
              _p("Ionic Hair Dryer", 39, 299, "hair dryer", "ionic hair dryer fast"))),
    Category("home", "HOM", 0.9, 1.3, ("Nordhem", "Casa Verde", "Lumo", "Oakridge"),
             ("Cloud", "Haven", "Aura", "Classic", "Serene"), ("Linen Grey", "Ivory", "Charcoal", "Sand"),
             (_p("Robot Vacuum", 149, 599, "robot vacuum", "robot vacuum and mop"),
              _p("Memory Foam Pillow", 25, 89, "memory foam pillow", "pillow for neck pain"),
              _p("Cotton Duvet Set", 39, 179, "duvet cover set", "cotton bedding set"),
              _p("Air Purifier HEPA", 79, 349, "air purifier", "hepa air purifier for bedroom"))),
    Category("toys", "TOY", 0.8, 1.9, ("Brickworks", "Tinytown", "Playwise", "Robotica Kids"),
             ("Explorer", "Junior", "Mega", "Adventure", "Creator"),
             ("Ages 3+", "Ages 6+", "Ages 8+", "Deluxe"),
             (_p("Building Blocks Set", 19, 149, "building blocks", "lego compatible set"),
              _p("Remote Control Car", 29, 129, "rc car", "remote control car for kids"),
              _p("STEM Robot Kit", 39, 179, "stem robot kit", "coding robot for kids"),
              _p("Plush Teddy Bear", 12, 49, "teddy bear", "soft plush toy"))),
)
# fmt: on

CATEGORY_BY_NAME: dict[str, Category] = {c.name: c for c in CATEGORIES}
CATEGORY_QUERIES: dict[str, tuple[str, ...]] = {
    c.name: tuple(q for p in c.products for q in p.queries) for c in CATEGORIES
}


def _price(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Log-uniform in the band, ending in .99 like shop prices."""
    raw = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    return max(round(raw) - 0.01, 0.99)


def build_catalog(n_skus: int, seed: int) -> list[SimSku]:
    """``n_skus`` SKUs, categories drawn by weight, titles unique; same seed ⇒ same catalogue."""
    if n_skus < 1:
        raise ValueError("n_skus must be >= 1")
    rng = np.random.default_rng([seed, 0xCA7])
    weights = np.array([c.weight for c in CATEGORIES])
    # Every category appears once before the weighted draw, so small catalogues still cover them.
    base = [i % len(CATEGORIES) for i in range(min(n_skus, len(CATEGORIES)))]
    extra = rng.choice(len(CATEGORIES), size=max(n_skus - len(base), 0), p=weights / weights.sum())
    skus: list[SimSku] = []
    seen: set[str] = set()
    for n, ci in enumerate([*base, *extra.tolist()]):
        cat = CATEGORIES[ci]
        product = cat.products[rng.integers(len(cat.products))]
        brand = cat.brands[rng.integers(len(cat.brands))]
        model = cat.models[rng.integers(len(cat.models))]
        variant = cat.variants[rng.integers(len(cat.variants))]
        title = f"{brand} {model} {product.noun}, {variant}"
        generation = 2
        while title in seen:  # large catalogues exhaust the templates; later generations stay distinct
            title = f"{brand} {model} {generation} {product.noun}, {variant}"
            generation += 1
        seen.add(title)
        price = _price(rng, *product.price_range)
        skus.append(SimSku(f"{cat.code}-{n:05d}", title, cat.name, product.noun, price, product.queries))
    return skus
