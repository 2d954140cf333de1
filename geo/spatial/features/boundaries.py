"""The public collections: the boundary hierarchy of the release and the service areas.

Each source names its level's rows current in release ``:rid``; the parent names come along so a
tile or a GeoPackage row reads on its own (网格 → 社区 → 街道 → 区县).
"""

from __future__ import annotations

from geo.spatial.boundaries.models import in_release
from geo.spatial.features.registry import Collection, Field, register

_CODE = Field("code", "string", "编码")
_NAME = Field("name", "string", "名称")
_DISTRICT = (Field("district_code", "string", "区县编码"), Field("district_name", "string", "区县"))
_STREET = (Field("street_code", "string", "街道编码"), Field("street_name", "string", "街道"))
_COMMUNITY = (
    Field("community_code", "string", "社区编码"),
    Field("community_name", "string", "社区"),
)

register(
    Collection(
        id="districts",
        title="区县",
        title_en="Districts",
        description="County-level divisions of Yichun (区县), by 6-digit adcode.",
        source=f"""SELECT d.code, d.name, d.geom FROM district d WHERE {in_release("d")}""",
        fields=(_CODE, _NAME),
        geometry_type="MultiPolygon",
        minzoom=5,
    )
)

register(
    Collection(
        id="streets",
        title="街道",
        title_en="Streets (sub-districts)",
        description="Sub-districts and towns (街道/镇): 9-digit code = district 6 + street 3.",
        source=f"""SELECT s.code, s.name, d.code AS district_code, d.name AS district_name, s.geom
                   FROM street s
                   JOIN district d ON d.code = s.district_code AND {in_release("d")}
                   WHERE {in_release("s")}""",
        fields=(_CODE, _NAME, *_DISTRICT),
        geometry_type="MultiPolygon",
        minzoom=8,
        queryables=("district_code",),
    )
)

register(
    Collection(
        id="communities",
        title="社区",
        title_en="Communities",
        description="Residents' communities (社区): 12-digit code = street 9 + community 3.",
        source=f"""SELECT c.code, c.name, s.code AS street_code, s.name AS street_name,
                          d.code AS district_code, d.name AS district_name, c.geom
                   FROM community c
                   JOIN street s ON s.code = c.street_code AND {in_release("s")}
                   JOIN district d ON d.code = s.district_code AND {in_release("d")}
                   WHERE {in_release("c")}""",
        fields=(_CODE, _NAME, *_STREET, *_DISTRICT),
        geometry_type="MultiPolygon",
        minzoom=9,
        queryables=("street_code", "district_code"),
    )
)

register(
    Collection(
        id="cells",
        title="网格",
        title_en="Grid cells",
        description=(
            "Grid cells (网格), the unit a grid worker walks:"
            " 15-digit code = community 12 + grid 3."
            " The cells of a community tile it without gaps or overlaps."
        ),
        source=f"""SELECT g.code, g.name, g.households,
                          c.code AS community_code, c.name AS community_name,
                          s.code AS street_code, s.name AS street_name,
                          d.code AS district_code, d.name AS district_name, g.geom
                   FROM grid_cell g
                   JOIN community c ON c.code = g.community_code AND {in_release("c")}
                   JOIN street s ON s.code = c.street_code AND {in_release("s")}
                   JOIN district d ON d.code = s.district_code AND {in_release("d")}
                   WHERE {in_release("g")}""",
        fields=(
            _CODE,
            _NAME,
            Field("households", "integer", "户数"),
            *_COMMUNITY,
            *_STREET,
            *_DISTRICT,
        ),
        geometry_type="Polygon",
        minzoom=11,
        queryables=("community_code", "street_code", "district_code"),
    )
)

register(
    Collection(
        id="service_areas",
        title="候鸟服务区",
        title_en="Service areas for seasonal residents",
        description=(
            "Service zones (候鸟服务区) in community service centres; `services` lists the"
            " offered items as category:item, separated by semicolons."
        ),
        source="""SELECT sa.id, sa.name, sa.community_code, sa.address, sa.opening_hours,
                         sa.phone, array_to_string(sa.services, ';') AS services, sa.geom
                  FROM service_area sa""",
        fields=(
            _NAME,
            Field("community_code", "string", "社区编码"),
            Field("address", "string", "地址"),
            Field("opening_hours", "string", "开放时间"),
            Field("phone", "string", "电话"),
            Field("services", "string", "服务项目"),
        ),
        geometry_type="Point",
        id_column="id",
        id_type="integer",
        versioned=False,
        minzoom=9,
        queryables=("community_code",),
    )
)
