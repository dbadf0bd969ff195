"""The networks and what is done to them in torch: models (:mod:`.models`), masks and their enforcement
(:mod:`.masks`), seeded training (:mod:`.training`), DGL training (:mod:`.dgl`) with the network cuts and auxiliary
heads (:mod:`.heads`), device and thread settings (:mod:`.device`, :mod:`.threads`), and compacted tickets with
their cost (:mod:`.compact`, :mod:`.ticket_cost`). Nothing here knows the MIP or the pipeline."""
