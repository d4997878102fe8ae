"""The demo businesses: who their customers are (personas drive behaviour) and what happens at each stage."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Persona:
    name: str
    share: float
    convert: float  # share who ever buy
    visits_per_month: float
    spend: float  # mean basket
    spend_sigma: float
    online: float  # share of purchases made online
    lifetime_months: float  # mean months until they lapse
    happiness: float  # 0..1, drives NPS, reviews and sentiment
    hours: tuple[int, int]  # typical local hours of purchase
    weekend: float  # share of purchases at the weekend
    discovery: tuple[float, ...]  # weights over DISCOVERY
    party: tuple[int, int] = (1, 2)
    who: str = ""
    needs: str = ""


DISCOVERY = ("search", "maps", "social", "word of mouth", "walk-in", "email")
DISCOVERY_CHANNEL = {"search": "web", "maps": "web", "social": "social", "word of mouth": "in-store",
                     "walk-in": "in-store", "email": "email"}
DISCOVERY_EVENT = {"search": "Search Result Clicked", "maps": "Maps Listing Viewed", "social": "Social Post Seen",
                   "word of mouth": "Recommended by Friend", "walk-in": "Walked Past", "email": "Newsletter Opened"}


@dataclass(frozen=True)
class Business:
    key: str
    name: str
    personas: tuple[Persona, ...]
    browse_events: tuple[str, ...]  # consideration (web)
    decide_online: str  # decision (web)
    decide_offline: str  # decision (phone/in person)
    purchase: str
    items: tuple[tuple[str, float], ...]  # (item, price)
    season: tuple[float, ...]  # month weights, Jan..Dec
    extra_decision: dict[str, str] = field(default_factory=dict)  # persona -> event


RESTAURANT = Business(
    key="restaurant",
    name="Olive & Ember (neighbourhood restaurant)",
    personas=(
        Persona("Family Night Out", 0.22, 0.85, 0.9, 78, 0.35, 0.15, 14, 0.72, (17, 20), 0.6, (3, 3, 2, 4, 2, 1),
                (3, 5), "Parents with children, weekend evenings", "Space for a buggy, a kids' menu, no long wait"),
        Persona("Convenient Weekday Diner", 0.28, 0.80, 1.6, 24, 0.30, 0.55, 9, 0.62, (12, 14), 0.15,
                (4, 4, 1, 1, 3, 1), (1, 2), "Works nearby, lunch or a quick dinner", "Fast service, online ordering"),
        Persona("Party Planner", 0.08, 0.60, 0.15, 520, 0.40, 0.40, 20, 0.68, (18, 21), 0.7, (4, 1, 2, 3, 0, 1),
                (12, 45), "Organises birthdays and office parties (catering)", "A clear quote, a set menu, reliability"),
        Persona("The Regular", 0.14, 0.97, 3.0, 36, 0.25, 0.20, 30, 0.86, (18, 21), 0.4, (1, 2, 1, 5, 3, 1),
                (2, 2), "Lives round the corner, comes every week", "Recognition, a favourite table"),
        Persona("The Busy Local Parent", 0.28, 0.70, 0.7, 32, 0.30, 0.70, 8, 0.55, (17, 19), 0.35,
                (3, 3, 4, 2, 1, 1), (2, 4), "Short on time, orders takeaway for the family", "Quick pick-up, reminders"),
    ),
    browse_events=("Menu Viewed", "Reviews Read", "Opening Hours Viewed"),
    decide_online="Table Booked",
    decide_offline="Phone Enquiry",
    purchase="Order Completed",
    items=(("Margherita", 11), ("Lasagne", 14), ("Sea Bass", 19), ("Tiramisu", 6.5), ("House Red", 22),
           ("Kids Menu", 7.5), ("Antipasti Board", 16), ("Catering Package", 24)),
    season=(0.8, 0.85, 0.9, 1.0, 1.05, 1.1, 1.15, 1.1, 0.95, 0.95, 1.05, 1.4),
    extra_decision={"Party Planner": "Catering Enquiry"},
)

SHOP = Business(
    key="shop",
    name="Northfield Goods (independent web shop)",
    personas=(
        Persona("Bargain Hunter", 0.25, 0.55, 0.35, 28, 0.45, 0.95, 8, 0.55, (20, 23), 0.4, (5, 0, 3, 1, 0, 3)),
        Persona("Gift Buyer", 0.22, 0.65, 0.15, 62, 0.40, 0.9, 10, 0.7, (19, 22), 0.45, (4, 0, 3, 3, 0, 1)),
        Persona("Loyal Fan", 0.15, 0.95, 0.9, 45, 0.30, 0.9, 24, 0.85, (20, 22), 0.4, (2, 0, 3, 2, 0, 4)),
        Persona("The Busy Local Parent", 0.23, 0.7, 0.5, 38, 0.35, 0.7, 10, 0.6, (21, 23), 0.3, (3, 1, 3, 2, 1, 1)),
        Persona("Window Shopper", 0.15, 0.2, 0.1, 25, 0.3, 0.95, 3, 0.5, (12, 22), 0.4, (3, 0, 5, 1, 0, 1)),
    ),
    browse_events=("Product Viewed", "Product Added", "Checkout Started"),
    decide_online="Checkout Started",
    decide_offline="Phone Enquiry",
    purchase="Order Completed",
    items=(("Linen Tote", 18), ("Ceramic Mug", 14), ("Scented Candle", 22), ("Wool Throw", 65),
           ("Notebook Set", 12), ("Gift Card", 25), ("Plant Pot", 19)),
    season=(0.7, 0.75, 0.85, 0.9, 0.95, 0.9, 0.85, 0.9, 1.0, 1.1, 1.5, 1.9),
)

SALON = Business(
    key="salon",
    name="Studio Verde (hair and beauty salon)",
    personas=(
        Persona("Regular Trim", 0.35, 0.9, 0.6, 38, 0.2, 0.6, 20, 0.78, (10, 17), 0.35, (2, 3, 1, 4, 2, 0)),
        Persona("Special Occasion", 0.2, 0.7, 0.15, 120, 0.35, 0.75, 6, 0.7, (9, 13), 0.6, (4, 2, 3, 2, 0, 0)),
        Persona("The Busy Local Parent", 0.3, 0.75, 0.35, 45, 0.25, 0.8, 12, 0.6, (9, 11), 0.2, (3, 3, 3, 2, 1, 0)),
        Persona("Pamper Seeker", 0.15, 0.85, 0.5, 85, 0.3, 0.65, 14, 0.8, (11, 16), 0.5, (2, 1, 5, 2, 0, 1)),
    ),
    browse_events=("Services Viewed", "Prices Viewed", "Stylist Profile Viewed"),
    decide_online="Appointment Booked",
    decide_offline="Phone Enquiry",
    purchase="Order Completed",
    items=(("Cut & Finish", 42), ("Colour", 85), ("Blow-dry", 28), ("Manicure", 25), ("Facial", 55),
           ("Bridal Package", 180)),
    season=(0.85, 0.9, 0.95, 1.0, 1.1, 1.15, 1.05, 1.0, 1.0, 1.0, 1.05, 1.35),
)

BUSINESSES = {b.key: b for b in (RESTAURANT, SHOP, SALON)}

STAGE_OF_EVENT = {
    **{e: "Awareness" for e in DISCOVERY_EVENT.values()},
    "Page Viewed": "Awareness",
    "Menu Viewed": "Consideration", "Reviews Read": "Consideration", "Opening Hours Viewed": "Consideration",
    "Product Viewed": "Consideration", "Services Viewed": "Consideration", "Prices Viewed": "Consideration",
    "Stylist Profile Viewed": "Consideration",
    "Table Booked": "Decision", "Phone Enquiry": "Decision", "Catering Enquiry": "Decision",
    "Product Added": "Decision", "Checkout Started": "Decision", "Appointment Booked": "Decision",
    "Signed Up": "Decision",
    "Order Completed": "Purchase",
    "Survey Responded": "Post-purchase", "Ticket Opened": "Post-purchase", "Review Posted": "Post-purchase",
    "Order Delivered": "Post-purchase",
    "Referral Sent": "Loyalty/Advocacy", "Loyalty Joined": "Loyalty/Advocacy", "Social Mention": "Loyalty/Advocacy",
}  # fmt: skip

# feedback text: (theme, positive?, sentences)
COMMENTS = {
    "positive": (
        ("friendly staff", "The staff were so friendly and made us feel welcome."),
        ("friendly staff", "Lovely team, really attentive without being pushy."),
        ("quality", "Everything was delicious and beautifully done, we will be back."),
        ("quality", "Excellent quality, better than anywhere else nearby."),
        ("value", "Great value for money, generous portions."),
        ("speed", "Quick and easy, exactly what I needed on a busy day."),
        ("atmosphere", "Cosy atmosphere, perfect for a relaxed evening."),
        ("booking", "Booking online took seconds, very convenient."),
    ),
    "neutral": (
        ("quality", "It was fine, nothing special but okay."),
        ("value", "Decent, a bit pricey for what it is."),
        ("atmosphere", "Good but quite noisy on a Friday night."),
        ("speed", "Service was okay, we waited a little for the bill."),
    ),
    "negative": (
        ("slow service", "We waited over forty minutes and nobody told us why. Very disappointing."),
        ("slow service", "Service was painfully slow and the staff seemed overwhelmed."),
        ("order mistakes", "My order was wrong and cold when it arrived, terrible experience."),
        ("order mistakes", "Items were missing from the order and I had to call twice."),
        ("booking problems", "The booking system lost my reservation, really frustrating."),
        ("price", "Far too expensive for tiny portions, not worth it."),
        ("rude staff", "The staff were rude and dismissive when I complained."),
        ("delivery", "Delivery was late and the driver could not find us."),
    ),
}

FIRST = ("Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Sophia", "Lily", "Ella", "Freya", "Noah", "Oliver",
         "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Theo", "Muhammad", "Priya", "Chen", "Fatima", "Kofi",
         "Sofia", "Mateo", "Hannah", "Tom", "Aisha", "Ravi", "Zara", "Ben", "Elena", "Lucas", "Maya", "Sam")
LAST = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Khan", "Lewis", "Clarke",
        "Okafor", "Nguyen", "Garcia", "Kowalski", "Murphy", "Singh", "Ali", "Campbell", "Hughes")
CITIES = ("Leeds", "Leeds", "Leeds", "Bradford", "Wakefield", "Harrogate", "York")
