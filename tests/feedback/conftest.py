import pandas as pd
import pytest

from tests.conftest import SHARED_DATA

CLOTHING = SHARED_DATA / "womens_clothing_reviews" / "womens_clothing_reviews_part_a.csv.gz"


@pytest.fixture(scope="session")
def clothing() -> pd.DataFrame:
    """Real clothing-shop reviews (part A): text and 1-5 stars."""
    df = pd.read_csv(CLOTHING).dropna(subset=["Review Text"])
    return df[["Review Text", "Rating", "Title"]].reset_index(drop=True)
