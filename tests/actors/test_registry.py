"""The registry (#16): config/registry/{groups,people,sites}.yaml, validated like channels.yaml."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.actors.registry import Actor, Person, Registry, Site, cached_loader, load_registry
from monitor.errors import ConfigError
from monitor.store.channels_file import load_channels_file
from tests.conftest import CONFIG

GROUPS = """\
groups:
  - id: nujaba
    name: Harakat al-Nujaba
    kind: armed group
    affiliates: [kahf]
    aliases: [HaN, حركة النجباء]
    channels:
      - {handle: "@Nujaba_Official", role: official}
    note: Militia Spotlight profile
  - id: kahf
    name: Ashab al-Kahf
    kind: facade
    parent: nujaba
    note: Militia Spotlight profile
"""
PEOPLE = """\
people:
  - id: kaabi
    name: Akram al-Kaabi
    group: nujaba
    role: leader
    aliases: [أكرم الكعبي, {alias: الكعبي, needs: [الشيخ]}]
    note: the seed
"""
SITES = """\
sites:
  - id: omar
    name: al-Omar oil field
    country: Syria
    lat: 35.02
    lon: 40.6
    aliases: [{alias: العمر, needs: [حقل]}]
    note: approximate public coordinates
"""


def write(tmp_path: Path, groups: str = GROUPS, people: str = PEOPLE, sites: str = SITES) -> Path:
    folder = tmp_path / "registry"
    folder.mkdir(exist_ok=True)
    for name, text in (("groups", groups), ("people", people), ("sites", sites)):
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_a_good_registry_loads_with_its_links(tmp_path: Path) -> None:
    registry = load_registry(write(tmp_path))
    nujaba, kahf = registry.groups["nujaba"], registry.groups["kahf"]
    assert nujaba.kind == "armed group" and nujaba.affiliates == ("kahf",)
    assert nujaba.channels == (("nujaba_official", "official"),)
    assert kahf.parent == "nujaba" and kahf.kind == "facade"
    kaabi = registry.people["kaabi"]
    assert kaabi.group == "nujaba" and kaabi.role == "leader"
    assert kaabi.aliases == ("أكرم الكعبي", "الكعبي") and kaabi.needs == (("الكعبي", ("الشيخ",)),)
    omar = registry.sites["omar"]
    assert (omar.country, omar.lat, omar.lon) == ("Syria", 35.02, 40.6)
    assert registry.group_for_channel("@NUJABA_official") is nujaba
    assert registry.group_for_channel("someone_else") is None
    assert registry.actor_named("harakat AL-nujaba") is nujaba
    assert registry.actor_named("حركة النجباء") is nujaba
    assert registry.actor_named("Kataib Hezbollah") is None


def test_no_registry_folder_is_an_empty_registry(tmp_path: Path) -> None:
    assert load_registry(tmp_path) == Registry({}, {}, {})


@pytest.mark.parametrize(
    ("file", "text", "line", "says"),
    [
        ("groups", GROUPS.replace("    kind: facade\n", "    kind: facade\n    colour: red\n"), 13,
         "groups[1].colour: unknown key"),
        ("groups", GROUPS.replace("id: kahf", "id: nujaba"), 10, "duplicate id 'nujaba'"),
        ("groups", GROUPS.replace("parent: nujaba", "parent: badr"), 13,
         "groups[1].parent: names 'badr', which is no group"),
        ("groups", GROUPS.replace("kind: facade", "kind: militia"), 12, "groups[1].kind: must be"),
        ("groups", GROUPS.replace("affiliates: [kahf]", "affiliates: [nujaba]"), 5,
         "groups[0].affiliates: names itself"),
        ("people", PEOPLE.replace("group: nujaba", "group: badr"), 4,
         "people[0].group: 'badr' is no group"),
        ("people", PEOPLE.replace("needs: [الشيخ]", "needs: []"), 6, "people[0].aliases[1]"),
        ("sites", SITES.replace("    lat: 35.02\n", ""), 2, "sites[0].lat: required"),
        ("sites", SITES.replace("lon: 40.6", "lon: east"), 6, "sites[0].lon"),
        ("sites", SITES.replace("lat: 35.02", "lat: 135.02"), 5, "sites[0].lat"),
        ("sites", SITES.replace("country: Syria", "country: Iran"), 4, "sites[0].country"),
        ("sites", SITES.replace("id: omar", "id: Al Omar"), 2, "sites[0].id"),
        ("sites", SITES.replace("    note: approximate public coordinates\n", ""), 2,
         "sites[0].note: required"),
    ],
)  # fmt: skip
def test_a_bad_file_names_the_file_and_the_line(
    tmp_path: Path, file: str, text: str, line: int, says: str
) -> None:
    write(tmp_path, **{file: text})
    with pytest.raises(ConfigError) as err:
        load_registry(tmp_path)
    assert err.value.file == str(tmp_path / "registry" / f"{file}.yaml")
    assert err.value.line == line, str(err.value)
    assert says in str(err.value)


def test_a_parent_cycle_is_refused(tmp_path: Path) -> None:
    cyclic = GROUPS.replace("    affiliates: [kahf]\n", "    parent: kahf\n")
    write(tmp_path, groups=cyclic)
    with pytest.raises(ConfigError, match="its own ancestor") as err:
        load_registry(tmp_path)
    assert err.value.line is not None


def test_one_channel_belongs_to_one_group(tmp_path: Path) -> None:
    twice = GROUPS + "    channels: [{handle: nujaba_official, role: media}]\n"
    write(tmp_path, groups=twice)
    with pytest.raises(ConfigError, match="already a channel of nujaba") as err:
        load_registry(tmp_path)
    assert err.value.line == 15


def test_yaml_aliases_are_refused_with_their_line(tmp_path: Path) -> None:
    write(tmp_path, people=PEOPLE.replace("role: leader", "role: &r leader"))
    with pytest.raises(ConfigError, match="anchors and aliases") as err:
        load_registry(tmp_path)
    assert err.value.line == 5


def test_the_cached_loader_reads_the_files_again_once_changed(tmp_path: Path) -> None:
    load = cached_loader(write(tmp_path))
    first = load()
    assert load() is first
    path = tmp_path / "registry" / "people.yaml"
    path.write_text(PEOPLE.replace("note: the seed", "note: the seed, corrected"), "utf-8")
    os.utime(path, ns=(1, 1))  # a new mtime, whatever the file system's resolution
    corrected = load()
    assert corrected.people["kaabi"].note == "the seed, corrected"
    # A typo saved into a running collector's registry keeps the registry read before.
    path.write_text(PEOPLE.replace("role: leader", "role: boss"), "utf-8")
    os.utime(path, ns=(2, 2))
    assert load() is corrected


def test_the_cached_loader_refuses_a_bad_registry_at_start_up(tmp_path: Path) -> None:
    write(tmp_path, people=PEOPLE.replace("role: leader", "role: boss"))
    with pytest.raises(ConfigError, match=r"people\.yaml:5"):
        cached_loader(tmp_path)


def test_the_starter_registry_loads_and_names_the_groups_of_channels_yaml() -> None:
    registry = load_registry(CONFIG)
    names = {g.name for g in load_channels_file(CONFIG / "channels.yaml").groups or []}
    assert names <= {a.name for a in registry.groups.values()}
    entries: list[Actor | Person | Site] = [
        *registry.groups.values(),
        *registry.people.values(),
        *registry.sites.values(),
    ]
    for entry in entries:
        assert entry.note.strip(), entry.id
    assert registry.people["akram-al-kaabi"].group == "harakat-al-nujaba"
    assert registry.people["qais-al-khazali"].group == "asaib-ahl-al-haq"
    assert registry.people["hadi-al-ameri"].group == "badr-organization"
    assert "ولي أمر المسلمين" in registry.people["ali-khamenei"].aliases
    assert registry.groups["ashab-al-kahf"].parent == "harakat-al-nujaba"
    assert registry.groups["saraya-awliya-al-dam"].parent == "asaib-ahl-al-haq"
    for site in ("ain-al-asad", "harir", "al-tanf", "tower-22", "al-omar", "conoco"):
        s = registry.sites[site]
        assert 29 < s.lat < 38 and 35 < s.lon < 49 and s.country in ("Iraq", "Syria", "Jordan")
    # Every channel of channels.yaml with a group is the registry's channel of that group.
    for channel in load_channels_file(CONFIG / "channels.yaml").channels or []:
        actor = registry.group_for_channel(channel.handle)
        assert actor is not None and actor.name == channel.group
