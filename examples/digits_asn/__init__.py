"""ASN/NASN digits example: adaptive spiking neurons (reconstructed) with direct input."""
