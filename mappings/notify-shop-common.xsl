<?xml version="1.0" encoding="UTF-8"?>
<!--
  Shared by the reverse mappings of the platform and the warehouse (notify-shop-json/xml.xsl,
  notify-wms-json/xml.xsl, included): reading portgate's normalized receipt (namespace
  urn:portgate:receipt:1) and writing JSON strings and ISO times. XSLT 1.0 has no JSON output, so strings
  are escaped here by hand: backslash, quote and the three control characters XML 1.0 lets through (tab,
  line feed, carriage return); every other character is valid JSON as it is (the output is UTF-8).
-->
<xsl:stylesheet version="1.0"
                xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
                xmlns:r="urn:portgate:receipt:1"
                exclude-result-prefixes="r">

  <!-- A JSON string literal, quotes included. -->
  <xsl:template name="json-string">
    <xsl:param name="s"/>
    <xsl:variable name="a">
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="$s"/><xsl:with-param name="from" select="'\'"/><xsl:with-param name="to" select="'\\'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="b">
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="$a"/><xsl:with-param name="from" select="'&quot;'"/><xsl:with-param name="to" select="'\&quot;'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="c">
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="$b"/><xsl:with-param name="from" select="'&#10;'"/><xsl:with-param name="to" select="'\n'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="d">
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="$c"/><xsl:with-param name="from" select="'&#13;'"/><xsl:with-param name="to" select="'\r'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:variable name="e">
      <xsl:call-template name="replace">
        <xsl:with-param name="s" select="$d"/><xsl:with-param name="from" select="'&#9;'"/><xsl:with-param name="to" select="'\t'"/>
      </xsl:call-template>
    </xsl:variable>
    <xsl:value-of select="concat('&quot;', $e, '&quot;')"/>
  </xsl:template>

  <!-- Every occurrence of $from in $s replaced by $to (recursion depth = number of occurrences). -->
  <xsl:template name="replace">
    <xsl:param name="s"/>
    <xsl:param name="from"/>
    <xsl:param name="to"/>
    <xsl:choose>
      <xsl:when test="contains($s, $from)">
        <xsl:value-of select="concat(substring-before($s, $from), $to)"/>
        <xsl:call-template name="replace">
          <xsl:with-param name="s" select="substring-after($s, $from)"/>
          <xsl:with-param name="from" select="$from"/>
          <xsl:with-param name="to" select="$to"/>
        </xsl:call-template>
      </xsl:when>
      <xsl:otherwise><xsl:value-of select="$s"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The receipt time (yyyyMMddHHmmssSSS from CEB receipts, or yyyyMMddHHmmss) as
       yyyy-MM-ddTHH:mm:ss[.SSS], China time as customs gives it; '' when it is neither. -->
  <xsl:template name="iso-time">
    <xsl:param name="t"/>
    <xsl:variable name="v" select="normalize-space($t)"/>
    <xsl:if test="(string-length($v) = 14 or string-length($v) = 17) and translate($v, '0123456789', '') = ''">
      <xsl:value-of select="concat(substring($v, 1, 4), '-', substring($v, 5, 2), '-', substring($v, 7, 2), 'T',
                                   substring($v, 9, 2), ':', substring($v, 11, 2), ':', substring($v, 13, 2))"/>
      <xsl:if test="string-length($v) = 17">
        <xsl:value-of select="concat('.', substring($v, 15, 3))"/>
      </xsl:if>
    </xsl:if>
  </xsl:template>

  <!-- The status text: the meaning portgate read from the status table, else the raw code. -->
  <xsl:template name="status-text">
    <xsl:param name="receipt"/>
    <xsl:choose>
      <xsl:when test="normalize-space($receipt/r:meaning)"><xsl:value-of select="normalize-space($receipt/r:meaning)"/></xsl:when>
      <xsl:otherwise><xsl:value-of select="concat('status ', $receipt/@status)"/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- "true"/"false" for JSON and xs:boolean. -->
  <xsl:template name="boolean">
    <xsl:param name="v"/>
    <xsl:choose>
      <xsl:when test="$v = 'true' or $v = '1'">true</xsl:when>
      <xsl:otherwise>false</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- judgement ok/bad; anything else is reported as bad (someone should look). -->
  <xsl:template name="result">
    <xsl:param name="v"/>
    <xsl:choose>
      <xsl:when test="$v = 'ok'">ok</xsl:when>
      <xsl:otherwise>bad</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- The warehouse's release signal: the inventory list was released (CEB622 800 放行, or 899 结关 when
       the release itself was missed); FORMATS.md §3 statuses. -->
  <xsl:template name="release">
    <xsl:param name="receipt"/>
    <xsl:choose>
      <xsl:when test="$receipt/@type = 'CEB622' and ($receipt/@status = '800' or $receipt/@status = '899')">true</xsl:when>
      <xsl:otherwise>false</xsl:otherwise>
    </xsl:choose>
  </xsl:template>

</xsl:stylesheet>
