"""Comparison methods, one small file each; registered through the ``ticketbench.methods`` entry points."""
