"""French departments' names, postcodes and the areas where coordinates may lie.

Used by the directory of structures to check imported lines: a department must be known, a
point must fall in France (metropolitan or overseas) and in the same area as its department,
so that swapped latitude/longitude or a Paris point filed under Réunion are caught.
"""

from __future__ import annotations

DEPARTMENT_NAMES: dict[str, str] = {
    "01": "Ain",
    "02": "Aisne",
    "03": "Allier",
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "07": "Ardèche",
    "08": "Ardennes",
    "09": "Ariège",
    "10": "Aube",
    "11": "Aude",
    "12": "Aveyron",
    "13": "Bouches-du-Rhône",
    "14": "Calvados",
    "15": "Cantal",
    "16": "Charente",
    "17": "Charente-Maritime",
    "18": "Cher",
    "19": "Corrèze",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "21": "Côte-d'Or",
    "22": "Côtes-d'Armor",
    "23": "Creuse",
    "24": "Dordogne",
    "25": "Doubs",
    "26": "Drôme",
    "27": "Eure",
    "28": "Eure-et-Loir",
    "29": "Finistère",
    "30": "Gard",
    "31": "Haute-Garonne",
    "32": "Gers",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "38": "Isère",
    "39": "Jura",
    "40": "Landes",
    "41": "Loir-et-Cher",
    "42": "Loire",
    "43": "Haute-Loire",
    "44": "Loire-Atlantique",
    "45": "Loiret",
    "46": "Lot",
    "47": "Lot-et-Garonne",
    "48": "Lozère",
    "49": "Maine-et-Loire",
    "50": "Manche",
    "51": "Marne",
    "52": "Haute-Marne",
    "53": "Mayenne",
    "54": "Meurthe-et-Moselle",
    "55": "Meuse",
    "56": "Morbihan",
    "57": "Moselle",
    "58": "Nièvre",
    "59": "Nord",
    "60": "Oise",
    "61": "Orne",
    "62": "Pas-de-Calais",
    "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin",
    "68": "Haut-Rhin",
    "69": "Rhône",
    "70": "Haute-Saône",
    "71": "Saône-et-Loire",
    "72": "Sarthe",
    "73": "Savoie",
    "74": "Haute-Savoie",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "79": "Deux-Sèvres",
    "80": "Somme",
    "81": "Tarn",
    "82": "Tarn-et-Garonne",
    "83": "Var",
    "84": "Vaucluse",
    "85": "Vendée",
    "86": "Vienne",
    "87": "Haute-Vienne",
    "88": "Vosges",
    "89": "Yonne",
    "90": "Territoire de Belfort",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}

# Mainland France as a coarse outline (latitude, longitude), drawn a few kilometres outside
# the coast and borders so that islands (Ouessant, Yeu, Belle-Île, Porquerolles) and border
# towns are in. It is meant to catch gross errors (swapped or mistyped coordinates, a point in
# Belgium, Spain or the sea); a few neighbouring places (Geneva, Monaco, Basel) fall inside.
MAINLAND_OUTLINE: tuple[tuple[float, float], ...] = (
    (51.15, 2.50), (50.95, 2.62), (50.80, 2.90), (50.83, 3.20), (50.72, 3.32), (50.52, 3.65),
    (50.38, 4.12), (50.05, 4.28), (50.20, 4.90), (49.82, 5.05), (49.58, 5.50), (49.55, 5.85),
    (49.52, 6.40), (49.23, 6.90), (49.20, 7.40), (49.08, 8.00), (49.00, 8.28), (48.60, 7.88),
    (48.10, 7.65), (47.60, 7.68), (47.45, 7.30), (47.30, 7.05), (47.05, 6.80), (46.60, 6.25),
    (46.45, 6.18), (46.42, 6.95), (46.10, 7.05), (45.90, 7.10), (45.65, 7.05), (45.25, 7.20),
    (44.90, 6.90), (44.45, 7.05), (44.15, 7.75), (43.78, 7.56), (43.70, 7.60), (43.40, 7.10),
    (43.15, 6.75), (42.95, 6.30), (43.15, 5.30), (43.30, 4.50), (43.20, 3.50), (42.60, 3.20),
    (42.38, 3.20), (42.42, 2.70), (42.35, 2.10), (42.40, 1.70), (42.62, 1.40), (42.68, 0.60),
    (42.75, 0.00), (42.75, -0.45), (42.92, -1.00), (43.05, -1.45), (43.30, -1.95),
    (43.50, -1.80), (44.65, -1.40), (45.60, -1.30), (45.95, -1.60), (46.25, -1.75),
    (46.50, -2.10), (46.70, -2.50), (47.00, -2.45), (47.25, -3.35), (47.75, -4.50),
    (48.00, -5.00), (48.45, -5.25), (48.75, -4.70), (48.95, -3.55), (48.95, -3.00),
    (48.72, -2.00), (48.90, -1.90), (49.75, -2.05), (49.75, -1.20), (49.45, -0.50),
    (49.60, 0.00), (49.85, 0.30), (50.05, 1.30), (50.45, 1.50), (50.85, 1.50), (51.05, 1.80),
)  # fmt: skip

# Bounding boxes (south, north, west, east), with a small margin for coastal structures.
# Guadeloupe's postcodes (971) also cover Saint-Martin and Saint-Barthélemy.
CORSICA = (41.3, 43.1, 8.5, 9.6)
OVERSEAS_AREAS: dict[str, tuple[tuple[float, float, float, float], ...]] = {
    "971": ((15.8, 16.6, -61.9, -60.9), (17.8, 18.2, -63.2, -62.7)),
    "972": ((14.3, 14.95, -61.3, -60.75),),
    "973": ((2.0, 5.9, -54.7, -51.5),),
    "974": ((-21.45, -20.8, 55.15, 55.9),),
    "976": ((-13.1, -12.55, 44.9, 45.35),),
}


def area_of_department(department: str) -> str:
    return department if department in OVERSEAS_AREAS else "metropolitan"


def area_of_point(latitude: float, longitude: float) -> str | None:
    """The area a point falls in ("metropolitan" or an overseas code), None outside France."""
    if _in_box(latitude, longitude, CORSICA) or _in_outline(latitude, longitude):
        return "metropolitan"
    for area, boxes in OVERSEAS_AREAS.items():
        if any(_in_box(latitude, longitude, box) for box in boxes):
            return area
    return None


def _in_box(latitude: float, longitude: float, box: tuple[float, float, float, float]) -> bool:
    south, north, west, east = box
    return south <= latitude <= north and west <= longitude <= east


def _in_outline(latitude: float, longitude: float) -> bool:
    """Ray casting: a point is inside when a ray from it crosses the outline an odd number
    of times."""
    inside = False
    points = MAINLAND_OUTLINE
    for (lat_a, lon_a), (lat_b, lon_b) in zip(points, points[1:] + points[:1], strict=True):
        if (lat_a > latitude) != (lat_b > latitude):
            crossing = lon_a + (latitude - lat_a) * (lon_b - lon_a) / (lat_b - lat_a)
            if longitude < crossing:
                inside = not inside
    return inside


def department_of_postcode(postcode: str) -> str | None:
    """The department a five-digit postcode usually belongs to (None when not a postcode).

    A few communes near a border carry a neighbour's postcode, so callers treat a mismatch
    as a doubt to report, not as an error.
    """
    if len(postcode) != 5 or not postcode.isdigit():
        return None
    if postcode.startswith("97"):
        return postcode[:3]
    if postcode.startswith("20"):
        return "2A" if int(postcode) < 20200 else "2B"
    return postcode[:2]


def department_label(code: str) -> str:
    name = DEPARTMENT_NAMES.get(code)
    return f"{code} – {name}" if name else code
