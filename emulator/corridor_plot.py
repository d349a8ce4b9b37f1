# The corridor run as a PNG: each vehicle's key stock over time (top), and
# the sessions along the road (bottom: road position against time, a dot
# per session made, a cross per refusal, coloured by vehicle).
S_PER_MIN = 60.0


def plot(corridor, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = corridor.spec
    fig, (stock, road) = plt.subplots(2, 1, sharex=True, figsize=(10, 7))
    colours = {}
    for i, v in enumerate(spec["vehicle"]):
        name = v["name"]
        colours[name] = "C%d" % i
        levels = corridor.stock_levels[name]
        if levels:
            t = [x[0] / S_PER_MIN for x in levels] + [spec["duration_s"] / S_PER_MIN]
            n = [x[1] for x in levels] + [levels[-1][1]]
            stock.step(t, n, where="post", color=colours[name], label=name)
    stock.set_ylabel("keys in stock")
    stock.legend(loc="upper right", fontsize=8)
    for r in spec["rsu"]:
        road.axhline(r["km"], color="grey", linewidth=0.6, linestyle=":")
        road.annotate(r["name"], (0, r["km"]), fontsize=7, color="grey", va="bottom")
    for made in (True, False):
        for name, colour in colours.items():
            pts = [(s[0] / S_PER_MIN, s[3]) for s in corridor.sessions if s[1] == name and (s[4] == "made") == made]
            if pts:
                road.scatter([p[0] for p in pts], [p[1] for p in pts], color=colour, s=18 if made else 40,
                             marker="o" if made else "x", label=None if made else "%s refused" % name)
    for e in spec["eavesdrop"]:
        end = spec["duration_s"] if e["duration_s"] is None else e["at_s"] + e["duration_s"]
        for ax in (stock, road):
            ax.axvspan(e["at_s"] / S_PER_MIN, end / S_PER_MIN, color="tab:red", alpha=0.08)
    road.set_ylabel("road position (km)")
    road.set_xlabel("time (min); red: eavesdropper on %s" % ", ".join("-".join(e["between"]) for e in spec["eavesdrop"]))
    road.legend(loc="lower right", fontsize=7)
    fig.suptitle("qkd-secoc corridor: %s (seed %d)" % (spec["name"], spec["seed"]))
    fig.tight_layout()
    fig.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(fig)
