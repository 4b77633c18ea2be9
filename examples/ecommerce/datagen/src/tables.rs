//! Static vocabulary for the catalog: countries, description words, prices.

/// Countries with relative invoice weights; "United Kingdom" gets ~85%.
#[rustfmt::skip]
pub const COUNTRIES: &[(&str, u32)] = &[
    ("United Kingdom", 7600), ("Germany", 230), ("France", 200), ("EIRE", 190),
    ("Spain", 75), ("Netherlands", 70), ("Belgium", 60), ("Switzerland", 55),
    ("Portugal", 45), ("Australia", 40), ("Norway", 35), ("Italy", 30),
    ("Channel Islands", 25), ("Finland", 24), ("Cyprus", 22), ("Sweden", 20),
    ("Austria", 16), ("Denmark", 15), ("Japan", 14), ("Poland", 13),
    ("USA", 12), ("Israel", 10), ("Hong Kong", 9), ("Singapore", 9),
    ("Unspecified", 8), ("Iceland", 7), ("Canada", 6), ("Greece", 6),
    ("Malta", 5), ("United Arab Emirates", 4), ("European Community", 3),
    ("RSA", 3), ("Lebanon", 2), ("Lithuania", 2), ("Brazil", 2),
    ("Czech Republic", 2), ("Bahrain", 2), ("Saudi Arabia", 2),
];

#[rustfmt::skip]
pub const STYLES: &[&str] = &[
    "WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "BLACK", "VINTAGE",
    "RETRO", "REGENCY", "ANTIQUE", "HANGING", "JUMBO", "SMALL", "LARGE",
    "MINI", "GLASS", "WOODEN", "ZINC", "ENAMEL", "CERAMIC", "PAPER", "FELT",
    "SILVER", "GOLD", "FLORAL", "POLKADOT", "PAISLEY", "FRENCH", "SWEETHEART",
];

#[rustfmt::skip]
pub const THEMES: &[&str] = &[
    "HEART", "STAR", "CHRISTMAS", "BIRD", "OWL", "SPACEBOY", "DOLLY GIRL",
    "BABUSHKA", "LOVE", "ROSE", "UNION JACK", "PARIS", "CAKE", "RABBIT",
    "WOODLAND", "PANTRY", "SKULL", "LEAF", "DAISY", "CIRCUS PARADE",
    "ALPHABET", "BUNNY", "SNOWFLAKE", "KITCHEN", "GARDEN",
];

#[rustfmt::skip]
pub const ITEMS: &[&str] = &[
    "T-LIGHT HOLDER", "LANTERN", "BAG", "LUNCH BOX", "NESTING BOXES", "MUG",
    "TEACUP AND SAUCER", "CAKESTAND", "BUNTING", "CUSHION COVER", "DOORMAT",
    "ALARM CLOCK", "PHOTO FRAME", "JAM MAKING SET", "NAPKINS", "PARTY CUPS",
    "CANDLE", "WALL ART", "METAL SIGN", "ORNAMENT", "DRAWER KNOB",
    "STORAGE TIN", "NOTEBOOK", "GIFT WRAP", "COAT RACK", "HOT WATER BOTTLE",
    "CHARLOTTE BAG", "PLAYING CARDS", "BAKING CASES", "SNACK BOXES",
    "WATER BOTTLE", "TRINKET BOX", "KEY RING", "DOOR STOP", "HAND WARMER",
    "PICNIC HAMPER", "BIRTHDAY CARD", "CHOPPING BOARD", "TISSUE BOX", "APRON",
];

/// Base unit prices in pence with relative weights: cheap items dominate.
#[rustfmt::skip]
pub const PRICE_TIERS: &[(i64, u32)] = &[
    (29, 30), (42, 60), (55, 50), (65, 70), (72, 40), (83, 80), (85, 90),
    (125, 120), (145, 80), (165, 120), (195, 70), (210, 110), (255, 100),
    (295, 110), (325, 50), (375, 70), (425, 80), (495, 80), (595, 40),
    (675, 30), (795, 40), (850, 20), (995, 30), (1275, 20), (1495, 15),
    (1695, 10), (1800, 10), (2495, 8), (2995, 6), (3995, 5), (4995, 4),
    (7995, 3), (12500, 2), (16500, 1), (29500, 1),
];

/// Everyday line quantities (mostly 1–24) with relative weights.
#[rustfmt::skip]
pub const SMALL_QUANTITIES: &[(i32, u32)] = &[
    (1, 30), (2, 18), (3, 8), (4, 10), (5, 3), (6, 14), (8, 4), (10, 5),
    (12, 16), (16, 2), (20, 2), (24, 6),
];

/// Occasional wholesale quantities.
#[rustfmt::skip]
pub const BULK_QUANTITIES: &[i32] = &[
    48, 72, 96, 100, 120, 144, 192, 200, 240, 288, 300, 384, 480, 500, 576,
    600, 640, 720, 960, 1000,
];
