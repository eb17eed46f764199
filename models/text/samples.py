"""Realistic e-commerce texts for benchmarks and accuracy checks: short titles and ~100-token descriptions."""

from __future__ import annotations

SAMPLE_TITLES: tuple[str, ...] = (
    # audio
    "Wireless Bluetooth earbuds with active noise cancelling, 30h battery",
    "Over-ear studio headphones, closed back, 3.5 mm jack",
    "Portable waterproof Bluetooth speaker with deep bass",
    "Soundbar 2.1 with wireless subwoofer for TV, HDMI ARC",
    "Kids' volume-limited on-ear headphones, blue",
    "USB condenser microphone for podcasting and streaming",
    # kitchen
    "Stainless steel chef knife 8 inch with ergonomic handle",
    "Non-stick frying pan 28 cm, induction compatible",
    "Programmable pressure cooker 6 quart, 7-in-1",
    "Digital kitchen scale, 5 kg, tempered glass",
    "Burr coffee grinder with 18 grind settings",
    "Set of 4 borosilicate glass food storage containers with lids",
    # fashion
    "Men's slim fit stretch chino trousers, navy",
    "Women's cashmere crew neck sweater, oatmeal",
    "Leather ankle boots with block heel, black",
    "Unisex cotton hoodie, oversized fit, grey marl",
    "Silk scarf with floral print, 90 x 90 cm",
    "Women's high-waisted skinny jeans, dark wash",
    # sports
    "Yoga mat 6 mm, non-slip, with carrying strap",
    "Adjustable dumbbell set 2-24 kg",
    "Men's trail running shoes, waterproof, size 43",
    "Road bike helmet with MIPS, matte black",
    "Resistance bands set of 5 with door anchor",
    "Insulated stainless steel water bottle 750 ml",
    # electronics
    "65-inch 4K UHD smart TV with HDR10 and Dolby Vision",
    "Mechanical gaming keyboard, RGB, brown switches",
    "USB-C charger 65 W GaN, 3 ports",
    "Wireless ergonomic mouse, rechargeable",
    "Smartphone 128 GB, 6.1-inch OLED, unlocked",
    "Portable SSD 1 TB, USB 3.2 Gen 2",
    # home & beauty & toys & grocery
    "Memory foam pillow, cooling gel, queen size",
    "Robot vacuum cleaner with mapping and auto-empty base",
    "Scented soy candle, lavender and vanilla, 200 g",
    "Vitamin C face serum 30 ml with hyaluronic acid",
    "Electric toothbrush with 3 brushing modes and travel case",
    "Building blocks set, 500 pieces, ages 6+",
    "Remote control off-road car, 1:16 scale",
    "Organic extra virgin olive oil, 1 litre",
    "Arabica coffee beans, medium roast, 1 kg",
    "Dog chew toy, durable rubber, large breeds",
)

SAMPLE_DESCRIPTIONS: tuple[str, ...] = (
    "These true wireless earbuds pair instantly over Bluetooth 5.3 and use hybrid active noise cancelling "
    "to block traffic, office chatter and engine hum. Each bud lasts eight hours on a charge and the "
    "pocket-sized case adds another twenty-two. A transparency mode lets you hear announcements without "
    "taking them out, the IPX5 rating shrugs off sweat and rain, and the touch controls handle calls, "
    "playback and voice assistants. Four sizes of silicone tips are included.",
    "Forged from a single piece of high-carbon German stainless steel, this eight-inch chef knife is "
    "hardened to 58 HRC and hand-sharpened to a fifteen-degree edge per side. The full tang and "
    "triple-riveted handle give balance for rocking cuts, while the tapered bolster protects your fingers. "
    "It slices tomatoes, dices onions and breaks down poultry with ease. Wash by hand and dry straight away "
    "to keep the edge keen for years.",
    "Cut from a soft, breathable cotton blend with two percent elastane, these slim-fit chinos move with "
    "you from the office to the weekend. The mid-rise waist sits comfortably, the tapered leg looks sharp "
    "with trainers or loafers, and deep front pockets hold a phone securely. A garment-washed finish "
    "means no stiffness out of the bag. Machine washable at thirty degrees; available in navy, stone, "
    "olive and black in waist sizes twenty-eight to forty.",
    "This six-millimetre yoga mat combines a dense natural-rubber base with a polyurethane top layer that "
    "grips even during hot yoga. Alignment lines help you place hands and feet consistently, and the extra "
    "cushioning protects knees and wrists during floor work. It weighs just over two kilograms, rolls up "
    "tightly and comes with a washable carrying strap. Free of PVC and latex-free foam; wipe clean with "
    "water and a drop of mild soap after each session.",
    "A sixty-five-inch 4K panel with local dimming, HDR10, HLG and Dolby Vision brings films and sport to "
    "life, while the 120 Hz refresh rate and variable refresh keep console games smooth. The built-in smart "
    "platform streams every major service, accepts voice commands and casts from phones. Four HDMI ports, "
    "one with eARC for soundbars, two USB ports, Wi-Fi 6 and Ethernet cover every connection. A slim metal "
    "stand and VESA mounting points are included.",
    "Our robot vacuum maps each room with lidar, plans efficient rows and avoids cables and socks with its "
    "front camera. Strong 5000 Pa suction lifts pet hair from carpets, and the auto-empty base holds up to "
    "sixty days of dust in a sealed bag. Set no-go zones, schedule cleaning and check progress from the "
    "app, or simply ask your smart speaker to start. A full charge covers about one hundred and eighty "
    "square metres on standard power.",
)
