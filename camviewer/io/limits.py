"""Resource limits checked before anything large is read, inflated or allocated."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Budgets for one input file. The defaults fit a 16k x 16k 16-bit radiograph."""

    max_file_bytes: int = 2048 * MIB
    max_frame_bytes: int = 512 * MIB
    max_total_pixel_bytes: int = 4096 * MIB
    max_inflated_bytes: int = 1024 * MIB
    max_inflate_ratio: int = 100
    inflate_ratio_allowance: int = 16 * MIB
    max_raster_pixels: int = 178_956_970 // 2  # Pillow's warning threshold (89.5 Mpx)

    def check_dimensions(self, rows: int, columns: int, samples: int, bits_allocated: int, frames: int) -> str | None:
        """The reason a header's image size is refused, or None when it fits."""
        frame_bytes = rows * columns * samples * max(1, (bits_allocated + 7) // 8)
        if frame_bytes > self.max_frame_bytes:
            return f"{rows} x {columns} x {samples} samples at {bits_allocated} bits exceeds {self.max_frame_bytes // MIB} MiB"
        if frame_bytes * frames > self.max_total_pixel_bytes:
            return f"{frames} frames exceed {self.max_total_pixel_bytes // MIB} MiB"
        return None


DEFAULT_LIMITS = Limits()
